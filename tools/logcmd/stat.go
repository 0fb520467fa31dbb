package logcmd

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/crewvm/crewvm/replaylog"
	"github.com/crewvm/crewvm/tools/cli"
)

// statResult is what `vmm log stat` reports; it is also its JSON form.
type statResult struct {
	File          string         `json:"file"`
	FileBytes     int64          `json:"file_bytes"`
	Format        string         `json:"format"`
	WriterVersion string         `json:"writer_version"`
	Created       time.Time      `json:"created"`
	Guest         string         `json:"guest"`
	GuestSHA256   string         `json:"guest_sha256"`
	Args          []string       `json:"args"`
	VCPUs         uint32         `json:"vcpus"`
	MemBytes      uint64         `json:"mem_bytes"`
	PageSize      uint32         `json:"page_size"`
	CPUIDBytes    int            `json:"cpuid_bytes"`
	Duration      time.Duration  `json:"duration_ns"`
	GuestTime     time.Duration  `json:"guest_time_ns"`
	Events        uint64         `json:"events"`
	ByKind        []kindCount    `json:"by_kind"`
	ByVCPU        []vcpuCount    `json:"by_vcpu"`
	Blocks        []blockSummary `json:"blocks"`
	Checkpoints   []uint64       `json:"checkpoint_events"`
	RawBytes      int64          `json:"raw_bytes"`
	StoredBytes   int64          `json:"stored_bytes"`
	Ratio         float64        `json:"compression_ratio"`
	Whole         bool           `json:"whole"`
	Status        string         `json:"status"`

	firstClock, lastClock uint64
	haveClock             bool
}

type kindCount struct {
	Kind  string `json:"kind"`
	Count uint64 `json:"count"`
}

type vcpuCount struct {
	VCPU  string `json:"vcpu"`
	Count uint64 `json:"count"`
}

type blockSummary struct {
	Type   string `json:"type"`
	Count  int    `json:"count"`
	Raw    int64  `json:"raw_bytes"`
	Stored int64  `json:"stored_bytes"`
}

func runStat(args []string, stdout, stderr io.Writer) int {
	c := newCommand("stat", "[--json] FILE",
		"Summarize a replay log: its header, duration, events by kind and by vCPU,\n"+
			"raw and compressed sizes. A truncated or damaged log is summarized up to\n"+
			"the damage, which is reported, and the exit status is 1.", stderr)
	asJSON := c.flags.Bool("json", false, "print the summary as JSON")
	if code, ok := c.parse(args, stdout); !ok {
		return code
	}
	r, code := c.open()
	if r == nil {
		return code
	}
	defer r.Close()
	s, err := collectStat(c.file, r)
	if err != nil {
		c.fail(err)
		return exitBad
	}
	if *asJSON {
		if err := cli.WriteJSON(stdout, s); err != nil {
			c.fail(err)
			return exitBad
		}
	} else {
		printStat(stdout, s)
	}
	if !s.Whole {
		fmt.Fprintf(stderr, "vmm log stat: %s: %s\n", c.file, s.Status)
		return exitBad
	}
	return exitOK
}

// collectStat reads every event. Only I/O errors are returned; damage ends
// the count and is recorded in Status.
func collectStat(file string, r *replaylog.Reader) (*statResult, error) {
	h := r.Header()
	s := &statResult{
		File: file, FileBytes: r.Size(),
		Format:        fmt.Sprintf("%d.%d", h.Major, h.Minor),
		WriterVersion: h.WriterVersion, Created: h.Created,
		Guest: h.Guest, GuestSHA256: hex.EncodeToString(h.GuestHash[:]), Args: h.Args,
		VCPUs: h.VCPUs, MemBytes: h.MemSize, PageSize: h.PageSize, CPUIDBytes: len(h.CPUID),
	}
	byKind := map[replaylog.Kind]uint64{}
	byVCPU := map[uint32]uint64{}
	var endErr error
	for {
		e, err := r.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				endErr = err
			}
			break
		}
		s.Events++
		byKind[e.Kind]++
		byVCPU[e.VCPU]++
		if e.Kind == replaylog.KindClock {
			if !s.haveClock {
				s.firstClock, s.haveClock = e.Value, true
			}
			s.lastClock = e.Value
		}
	}
	var te *replaylog.TruncatedError
	var ce *replaylog.CorruptError
	if endErr != nil && !errors.As(endErr, &te) && !errors.As(endErr, &ce) {
		return nil, endErr
	}
	if s.haveClock && s.lastClock > s.firstClock {
		s.GuestTime = time.Duration(s.lastClock - s.firstClock)
	}
	kinds := make([]replaylog.Kind, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool { return kinds[i] < kinds[j] })
	for _, k := range kinds {
		s.ByKind = append(s.ByKind, kindCount{Kind: k.String(), Count: byKind[k]})
	}
	vcpus := make([]uint32, 0, len(byVCPU))
	for v := range byVCPU {
		vcpus = append(vcpus, v)
	}
	sort.Slice(vcpus, func(i, j int) bool { return vcpus[i] < vcpus[j] })
	for _, v := range vcpus {
		s.ByVCPU = append(s.ByVCPU, vcpuCount{VCPU: vcpuName(v), Count: byVCPU[v]})
	}

	blocks, blockErr := r.Blocks()
	byType := map[replaylog.BlockType]*blockSummary{}
	var types []replaylog.BlockType
	for _, b := range blocks {
		bs := byType[b.Type]
		if bs == nil {
			bs = &blockSummary{Type: b.Type.String()}
			byType[b.Type] = bs
			types = append(types, b.Type)
		}
		bs.Count++
		bs.Raw += int64(b.Raw)
		bs.Stored += int64(b.Stored)
		s.RawBytes += int64(b.Raw)
		s.StoredBytes += int64(b.Stored)
		if b.Time > s.Duration {
			s.Duration = b.Time
		}
	}
	sort.Slice(types, func(i, j int) bool { return types[i] < types[j] })
	for _, t := range types {
		s.Blocks = append(s.Blocks, *byType[t])
	}
	if s.StoredBytes > 0 {
		s.Ratio = float64(s.RawBytes) / float64(s.StoredBytes)
	}
	for _, cp := range r.Checkpoints() {
		s.Checkpoints = append(s.Checkpoints, cp.Event)
	}
	if endErr == nil {
		endErr = blockErr
	}
	s.Whole = endErr == nil
	s.Status = describeEnd(endErr)
	return s, nil
}

func printStat(w io.Writer, s *statResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "file:\t%s (%s)\n", s.File, bytesize(s.FileBytes))
	fmt.Fprintf(tw, "format:\t%s, written by vmm %s\n", s.Format, s.WriterVersion)
	fmt.Fprintf(tw, "created:\t%s\n", s.Created.UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "guest:\t%s (sha256 %s)\n", s.Guest, s.GuestSHA256)
	if len(s.Args) > 0 {
		fmt.Fprintf(tw, "args:\t%s\n", joinArgs(s.Args))
	}
	fmt.Fprintf(tw, "vcpus:\t%d\n", s.VCPUs)
	fmt.Fprintf(tw, "memory:\t%s, CREW granularity %s\n", bytesize(int64(s.MemBytes)), bytesize(int64(s.PageSize)))
	fmt.Fprintf(tw, "cpuid:\t%d bytes\n", s.CPUIDBytes)
	guest := "no clock events"
	if s.haveClock {
		guest = s.GuestTime.String() + " of guest clock"
	}
	fmt.Fprintf(tw, "duration:\t%s recording, %s\n", s.Duration.Round(time.Millisecond), guest)
	fmt.Fprintf(tw, "events:\t%d\n", s.Events)
	fmt.Fprintf(tw, "checkpoints:\t%d", len(s.Checkpoints))
	if len(s.Checkpoints) > 0 {
		fmt.Fprintf(tw, " (before events %s)", joinUints(s.Checkpoints, 8))
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "size:\t%s raw, %s compressed, ratio %.2fx", bytesize(s.RawBytes), bytesize(s.StoredBytes), s.Ratio)
	if s.Events > 0 {
		fmt.Fprintf(tw, ", %.2f bytes/event in the file", float64(s.FileBytes)/float64(s.Events))
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "status:\t%s\n", s.Status)
	tw.Flush()

	fmt.Fprintf(w, "\nblocks:\n")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "type\tcount\traw\tcompressed\tratio\t\n")
	for _, b := range s.Blocks {
		ratio := 0.0
		if b.Stored > 0 {
			ratio = float64(b.Raw) / float64(b.Stored)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%.2fx\t\n", b.Type, b.Count, bytesize(b.Raw), bytesize(b.Stored), ratio)
	}
	tw.Flush()

	fmt.Fprintf(w, "\nevents by kind:\n")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "kind\tcount\tshare\t\n")
	for _, k := range s.ByKind {
		fmt.Fprintf(tw, "%s\t%d\t%.1f%%\t\n", k.Kind, k.Count, pct(k.Count, s.Events))
	}
	tw.Flush()

	fmt.Fprintf(w, "\nevents by vCPU:\n")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "vcpu\tcount\tshare\t\n")
	for _, v := range s.ByVCPU {
		fmt.Fprintf(tw, "%s\t%d\t%.1f%%\t\n", v.VCPU, v.Count, pct(v.Count, s.Events))
	}
	tw.Flush()
}

func pct(n, total uint64) float64 {
	if total == 0 {
		return 0
	}
	return 100 * float64(n) / float64(total)
}

func joinUints(v []uint64, max int) string {
	s := ""
	for i, x := range v {
		if i == max {
			return s + fmt.Sprintf(", ... %d more", len(v)-max)
		}
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprint(x)
	}
	return s
}
