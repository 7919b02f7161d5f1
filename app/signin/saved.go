package signin

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// savedToken is what a TokenStore holds for an Authorization Code session:
// the refresh token and, beside it, the access token with its expiry. With
// the access token kept, a restart within its 10 hours needs no refresh, so
// the refresh token is not rotated on every start, and a rotation whose
// answer was lost (which ends the sign-in) becomes rare.
type savedToken struct {
	Version      int       `json:"v"`
	RefreshToken string    `json:"refresh_token"`
	AccessToken  string    `json:"access_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
}

const savedVersion = 1

// encodeSaved turns a token into the string a TokenStore keeps. An access
// token without an expiry is left out: restored, it would look valid forever.
func encodeSaved(t *oauth2.Token) string {
	s := savedToken{Version: savedVersion, RefreshToken: t.RefreshToken}
	if t.AccessToken != "" && !t.Expiry.IsZero() {
		s.AccessToken, s.TokenType, s.Expiry = t.AccessToken, t.TokenType, t.Expiry.UTC()
	}
	b, _ := json.Marshal(s) // strings and a time: cannot fail
	return string(b)
}

// encodeRefreshOnly is the smaller record, for a keyring that refuses the
// full one (Windows limits a credential to 2560 bytes).
func encodeRefreshOnly(t *oauth2.Token) string {
	return encodeSaved(&oauth2.Token{RefreshToken: t.RefreshToken})
}

// errDamaged says a saved record cannot be read. Its text never quotes the
// record: it holds tokens.
var errDamaged = errors.New("the saved Provet sign-in cannot be read: sign in again")

// decodeSaved reads what encodeSaved wrote, and also the bare refresh token
// that earlier versions stored (Provet's tokens never start with "{").
func decodeSaved(v string) (*oauth2.Token, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, ErrNoToken
	}
	if !strings.HasPrefix(v, "{") {
		// RFC 6749 tokens are visible ASCII; anything else is not a token.
		for i := range len(v) {
			if v[i] < 0x21 || v[i] > 0x7e {
				return nil, errDamaged
			}
		}
		return &oauth2.Token{RefreshToken: v}, nil
	}
	var s savedToken
	if err := json.Unmarshal([]byte(v), &s); err != nil || s.Version < savedVersion {
		return nil, errDamaged
	}
	t := &oauth2.Token{RefreshToken: s.RefreshToken}
	if s.AccessToken != "" && !s.Expiry.IsZero() {
		t.AccessToken, t.TokenType, t.Expiry = s.AccessToken, s.TokenType, s.Expiry
	}
	if t.RefreshToken == "" && t.AccessToken == "" {
		return nil, ErrNoToken
	}
	return t, nil
}
