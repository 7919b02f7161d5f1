package app

import (
	"github.com/vetbridge/vetbridge/app/pacs"
	"github.com/vetbridge/vetbridge/app/platform"
	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/app/settings"
)

// The configuration lives in package settings; these names keep the
// facade's API whole for the UI and the commands.
type (
	Config          = settings.Config
	ProvetConfig    = settings.ProvetConfig
	DICOMConfig     = settings.DICOMConfig
	DeviceProfile   = settings.DeviceProfile
	ModalityMapping = settings.ModalityMapping
	NotifyConfig    = settings.NotifyConfig
	WebhookConfig   = settings.WebhookConfig
	Duration        = settings.Duration
	FieldError      = settings.FieldError
	ValidationError = settings.ValidationError
	// PACSConfig is the PACS connection (Config.PACS).
	PACSConfig = pacs.Config
	// StatusValue is one raw status value in a StatusSurvey.
	StatusValue = provet.StatusValue
)

// ConfigFileName is the configuration file inside the data directory.
const ConfigFileName = settings.FileName

var (
	// DefaultConfig is what a fresh installation starts with.
	DefaultConfig = settings.Default
	// LoadConfig reads the configuration of a data directory.
	LoadConfig = settings.Load
	// SaveConfig writes a data directory's configuration atomically.
	SaveConfig = settings.Save
	// ParseDuration accepts Go durations plus whole days ("30d").
	ParseDuration = settings.ParseDuration
	// NewLogger returns VetBridge's logger: text to w, personal data
	// redacted unless debug is set, credentials always.
	NewLogger = platform.NewLogger
)

// Redacted replaces sensitive values in logs.
const Redacted = platform.Redacted
