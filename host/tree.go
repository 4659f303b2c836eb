package host

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
)

// TreeSums fingerprints every path under roots: its mode and its content
// (a file's SHA-256, a link's target), to tell whether a tree is as it
// was. Roots that do not exist have none.
func TreeSums(roots ...string) map[string]string {
	sums := map[string]string{}
	for _, root := range roots {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			fi, err := os.Lstat(p)
			if err != nil {
				return nil
			}
			v := fi.Mode().String()
			switch {
			case fi.Mode()&fs.ModeSymlink != 0:
				t, _ := os.Readlink(p)
				v += " -> " + t
			case fi.Mode().IsRegular():
				if data, err := os.ReadFile(p); err == nil {
					h := sha256.Sum256(data)
					v += " " + hex.EncodeToString(h[:])
				}
			}
			sums[p] = v
			return nil
		})
	}
	return sums
}
