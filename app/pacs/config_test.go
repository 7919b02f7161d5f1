package pacs_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/vetbridge/vetbridge/app/pacs"
)

func TestConfigValidate(t *testing.T) {
	ok := []pacs.Config{
		{},
		{AETitle: "ORTHANC", Host: "192.168.1.20", Port: 4242},
		{AETitle: "PACS 1", Host: "pacs.clinic.local", Port: 104},
		{QIDOURL: "http://127.0.0.1:8042/dicom-web/"},
		{QIDOURL: "https://pacs.example/dicomweb"},
	}
	for _, c := range ok {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	bad := []struct {
		cfg    pacs.Config
		fields []string
	}{
		{pacs.Config{Host: "h", Port: 104}, []string{"pacs.ae_title"}},
		{pacs.Config{AETitle: "THIS_AE_TITLE_IS_TOO_LONG", Host: "h", Port: 104}, []string{"pacs.ae_title"}},
		{pacs.Config{AETitle: "A\\B", Host: "h", Port: 104}, []string{"pacs.ae_title"}},
		{pacs.Config{AETitle: "PACS", Host: "http://pacs", Port: 0}, []string{"pacs.host", "pacs.port"}},
		{pacs.Config{AETitle: "PACS", Host: "pacs", Port: 70000}, []string{"pacs.port"}},
		{pacs.Config{QIDOURL: "pacs.example/dicom-web"}, []string{"pacs.qido_url"}},
		{pacs.Config{QIDOURL: "ftp://pacs/dicom-web"}, []string{"pacs.qido_url"}},
		{pacs.Config{QIDOURL: "http://pacs/dicom-web?x=1"}, []string{"pacs.qido_url"}},
		{pacs.Config{QIDOURL: "http://pacs/dicom-web", AETitle: "PACS"}, []string{"pacs.qido_url"}},
	}
	for _, tc := range bad {
		err := tc.cfg.Validate()
		var ve pacs.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%+v: %v, want a ValidationError", tc.cfg, err)
			continue
		}
		var got []string
		for _, fe := range ve {
			got = append(got, fe.Field)
			if len(fe.Message) < 20 {
				t.Errorf("%s: %q does not say what to do", fe.Field, fe.Message)
			}
		}
		if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
			t.Errorf("%+v: fields %v, want %v (%v)", tc.cfg, got, tc.fields, err)
		}
	}
	if _, err := pacs.New(pacs.Config{}, pacs.Options{}); !errors.Is(err, pacs.ErrNotConfigured) {
		t.Errorf("New without a PACS: %v", err)
	}
	if _, err := pacs.New(pacs.Config{Host: "h"}, pacs.Options{}); err == nil || !strings.Contains(err.Error(), "pacs.ae_title") {
		t.Errorf("New with a bad config: %v", err)
	}
}
