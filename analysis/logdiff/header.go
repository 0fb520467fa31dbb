package logdiff

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/crewvm/crewvm/replaylog"
)

func logInfo(name string, h *replaylog.Header) LogInfo {
	return LogInfo{Name: name, Guest: h.Guest, GuestSHA256: hex.EncodeToString(h.GuestHash[:]), Args: nonNil(h.Args),
		VCPUs: h.VCPUs, MemBytes: h.MemSize, PageSize: h.PageSize, DiskBytes: h.DiskSize, Writer: h.WriterVersion,
		Created: h.Created}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// compareHeaders returns the header fields that make two logs recordings
// of different workloads (fatal) and those that only deserve a note. What
// the guest does depends on its image, arguments, vCPUs, memory, disk and
// input, and the CREW page numbers on the granularity: a difference in
// any of these explains everything after it, so the events are not
// compared. The writer's version, the CPUID table (the host) and the
// guest's file name may differ between two recordings worth comparing.
func compareHeaders(a, b *replaylog.Header) (fatal, notes []HeaderField) {
	add := func(to *[]HeaderField, field, va, vb string) {
		if va != vb {
			*to = append(*to, HeaderField{Field: field, A: va, B: vb})
		}
	}
	add(&fatal, "guest image", "sha256 "+hex.EncodeToString(a.GuestHash[:]), "sha256 "+hex.EncodeToString(b.GuestHash[:]))
	add(&fatal, "workload arguments", quoteArgs(a.Args), quoteArgs(b.Args))
	add(&fatal, "vCPU count", strconv.FormatUint(uint64(a.VCPUs), 10), strconv.FormatUint(uint64(b.VCPUs), 10))
	add(&fatal, "memory size", sizeString(a.MemSize), sizeString(b.MemSize))
	add(&fatal, "CREW granularity", sizeString(uint64(a.PageSize)), sizeString(uint64(b.PageSize)))
	add(&fatal, "disk", diskString(a), diskString(b))
	add(&fatal, "input file (--tests)", inputString(a.Input), inputString(b.Input))

	add(&notes, "guest", a.Guest, b.Guest)
	add(&notes, "writer version", a.WriterVersion, b.WriterVersion)
	add(&notes, "format", fmt.Sprintf("%d.%d", a.Major, a.Minor), fmt.Sprintf("%d.%d", b.Major, b.Minor))
	if !bytes.Equal(a.CPUID, b.CPUID) {
		notes = append(notes, HeaderField{Field: "CPUID table",
			A: blobString(a.CPUID), B: blobString(b.CPUID)})
	}
	if !bytes.Equal(a.Extra, b.Extra) {
		notes = append(notes, HeaderField{Field: "engine configuration", A: blobString(a.Extra), B: blobString(b.Extra)})
	}
	return fatal, notes
}

func quoteArgs(args []string) string {
	if len(args) == 0 {
		return "(none)"
	}
	q := make([]string, len(args))
	for i, s := range args {
		if s == "" || strings.ContainsAny(s, " \t\n'\"\\") {
			s = strconv.Quote(s)
		}
		q[i] = s
	}
	return strings.Join(q, " ")
}

func sizeString(n uint64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

func diskString(h *replaylog.Header) string {
	if h.DiskSize == 0 {
		return "none"
	}
	s := fmt.Sprintf("%d bytes", h.DiskSize)
	if h.DiskReadOnly {
		s += ", read-only"
	}
	return s
}

func inputString(p []byte) string {
	if len(p) == 0 {
		return "none"
	}
	sum := sha256.Sum256(p)
	return fmt.Sprintf("%d bytes, sha256 %s", len(p), hex.EncodeToString(sum[:8]))
}

func blobString(p []byte) string {
	if len(p) == 0 {
		return "empty"
	}
	sum := sha256.Sum256(p)
	return fmt.Sprintf("%d bytes, sha256 %s", len(p), hex.EncodeToString(sum[:8]))
}
