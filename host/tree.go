package host

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
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

// DiffSums lists the paths whose TreeSums differ between before and
// after, sorted: changed ones as they are, "PATH (new)" and "PATH (gone)"
// for the others; at most 10, then "and N more".
func DiffSums(before, after map[string]string) []string {
	var diff []string
	for p, sum := range after {
		if old, ok := before[p]; !ok {
			diff = append(diff, p+" (new)")
		} else if old != sum {
			diff = append(diff, p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			diff = append(diff, p+" (gone)")
		}
	}
	sort.Strings(diff)
	if len(diff) > 10 {
		diff = append(diff[:10], fmt.Sprintf("and %d more", len(diff)-10))
	}
	return diff
}
