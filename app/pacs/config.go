package pacs

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/vetbridge/vetbridge/dicom/pdu"
)

// Config is the "pacs" section of config.json: a DICOM Query/Retrieve SCP
// (AETitle, Host, Port) or a QIDO-RS service (QIDOURL), not both. The zero
// Config means no PACS is connected.
type Config struct {
	AETitle string `json:"ae_title,omitempty"`
	Host    string `json:"host,omitempty"`
	Port    int    `json:"port,omitempty"`
	QIDOURL string `json:"qido_url,omitempty"`
}

// Configured reports whether a PACS is set at all.
func (c Config) Configured() bool { return c != Config{} }

// UsesQIDO reports whether the PACS is reached over QIDO-RS.
func (c Config) UsesQIDO() bool { return strings.TrimSpace(c.QIDOURL) != "" }

// Addr is host:port of a DICOM PACS.
func (c Config) Addr() string { return net.JoinHostPort(c.Host, fmt.Sprint(c.Port)) }

// FieldError says what to change in one field, named as in config.json.
type FieldError struct{ Field, Message string }

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// ValidationError lists every field to fix.
type ValidationError []FieldError

func (v ValidationError) Error() string {
	msgs := make([]string, len(v))
	for i, e := range v {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// Validate checks the section; the zero Config is valid (no PACS). Errors
// are a ValidationError naming fields as "pacs.<key>".
func (c Config) Validate() error {
	if !c.Configured() {
		return nil
	}
	var errs ValidationError
	add := func(field, msg string) { errs = append(errs, FieldError{"pacs." + field, msg}) }
	dicomSet := c.AETitle != "" || c.Host != "" || c.Port != 0
	if c.UsesQIDO() {
		if dicomSet {
			add("qido_url", "set either the DICOM connection (ae_title, host, port) or qido_url, not both; clear the one you do not use")
		}
		u, err := url.Parse(strings.TrimSpace(c.QIDOURL))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("qido_url", "the PACS's DICOMweb address, e.g. http://pacs.local:8042/dicom-web")
		} else if u.RawQuery != "" || u.Fragment != "" {
			add("qido_url", "give the DICOMweb root without ?query or #fragment, e.g. http://pacs.local:8042/dicom-web")
		}
		if len(errs) > 0 {
			return errs
		}
		return nil
	}
	if !pdu.ValidAETitle(c.AETitle) {
		add("ae_title", "the PACS's AE title: 1 to 16 characters, letters, digits, space, - or _, not only spaces (ask the PACS administrator)")
	}
	if strings.TrimSpace(c.Host) == "" || strings.ContainsAny(c.Host, " /?#@") {
		add("host", "the PACS's host name or IP address, e.g. 192.168.1.20, without http:// or a port")
	}
	if c.Port < 1 || c.Port > 65535 {
		add("port", "the PACS's DICOM port, from 1 to 65535 (104, 4242 or 11112 are usual)")
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}
