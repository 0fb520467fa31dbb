package guest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
)

// Recorded returns the guest image a recording names and its name for
// messages: the file override, else name (a log header's Guest: a path,
// or "builtin" or "" for Kernel). It must hash to the SHA-256 the header
// holds, so that nobody reads one image's symbols, or replays it, as
// another's.
func Recorded(name, override string, hash [32]byte) ([]byte, string, error) {
	image, from := Kernel, "the built-in guest"
	switch {
	case override != "":
		from = override
	case name != "" && name != "builtin":
		from = name
	}
	if from != "the built-in guest" {
		var err error
		if image, err = os.ReadFile(from); err != nil {
			return nil, from, fmt.Errorf("the recorded guest image: %w", err)
		}
	}
	if err := Matches(image, from, hash); err != nil {
		return nil, from, err
	}
	return image, from, nil
}

// Matches says, as an error naming it from, when image is not the one
// whose SHA-256 a log header holds.
func Matches(image []byte, from string, hash [32]byte) error {
	if sum := sha256.Sum256(image); sum != hash {
		return fmt.Errorf("%s (sha256 %s) is not the recorded guest image (sha256 %s)",
			from, hex.EncodeToString(sum[:8]), hex.EncodeToString(hash[:8]))
	}
	return nil
}
