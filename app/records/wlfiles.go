package records

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vetbridge/vetbridge/dicom/worklist"
)

// ExportWL writes every item on the worklist as a .wl file into dir, for
// DCMTK wlmscpfs or Orthanc's worklist plugin. The files hold owner and
// patient names: dir is created 0700 and each file 0600.
func (r *Repo) ExportWL(dir string) (int, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, fmt.Errorf("create %s: %w", dir, err)
	}
	n := 0
	var werr error
	err := r.Each(func(rec Record) bool {
		if !rec.OnWorklist() {
			return true
		}
		if werr = writeWLFile(filepath.Join(dir, wlFileName(rec.Item.Key)), rec.Item); werr != nil {
			return false
		}
		n++
		return true
	})
	if err == nil {
		err = werr
	}
	return n, err
}

// wlFileName names a .wl file after a hash of the item key: keys and AE
// titles come from outside and are never used as file names.
func wlFileName(key string) string {
	sum := sha1.Sum([]byte(key))
	return "vb-" + hex.EncodeToString(sum[:10]) + ".wl"
}

// writeWLFile writes atomically through a temporary file created with
// O_EXCL under an unguessable name, so a link planted in a shared export
// directory cannot redirect the write.
func writeWLFile(path string, it worklist.Item) error {
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	tmp := path + "." + hex.EncodeToString(rnd[:]) + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := worklist.WriteFile(f, it); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// ImportWL reads every .wl file under dir into the worklist. Items are keyed
// by their Study Instance UID (or the file's content) so importing twice
// replaces rather than duplicates. Files that are not worklist items are
// counted and logged, not fatal.
func (r *Repo) ImportWL(dir string, now time.Time) (imported, bad int, err error) {
	var recs []Record
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.EqualFold(filepath.Ext(path), ".wl") {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		it, rerr := worklist.ReadFile(f)
		f.Close()
		if rerr != nil {
			r.log.Warn("not a worklist file; skipped", "file", path, "err", rerr)
			bad++
			return nil
		}
		id := it.StudyInstanceUID
		if id == "" {
			id = it.AccessionNumber + "/" + it.PatientID + "/" + it.SPSID
		}
		sum := sha1.Sum([]byte(id))
		it.Key = "import:" + hex.EncodeToString(sum[:12])
		it.Updated = now
		fillImportedIdentifiers(&it, strings.ToUpper(hex.EncodeToString(sum[:4])))
		recs = append(recs, Record{Item: it, Source: SourceImport, Arrived: now})
		return nil
	})
	if err != nil {
		return 0, bad, fmt.Errorf("read %s: %w", dir, err)
	}
	if err := r.Apply(recs, nil); err != nil {
		return 0, bad, err
	}
	return len(recs), bad, nil
}

// fillImportedIdentifiers stores the Type 1 identifiers a file-based server
// left empty, so what the modality receives can also be queried for and
// linked by MPPS; the encoder would otherwise invent them per answer.
func fillImportedIdentifiers(it *worklist.Item, short string) {
	if it.StudyInstanceUID == "" {
		it.StudyInstanceUID = worklist.DerivedStudyInstanceUID(it.Key)
	}
	if it.RequestedProcedureID == "" {
		it.RequestedProcedureID = nonEmpty(it.AccessionNumber, "IMP"+short)
	}
	if it.SPSID == "" {
		it.SPSID = it.RequestedProcedureID
	}
	if it.PatientID == "" {
		it.PatientID = "IMP" + short
	}
}
