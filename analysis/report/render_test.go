package report

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crewvm/crewvm/analysis"
)

// lockShared is a shared range as the sharing analysis writes it.
func lockShared() analysis.Shared {
	return analysis.Shared{
		Addr: "struct mono_fs:0.lock.locked", RawAddr: 0x212040, Size: 4, PC1: 0x100072, PC2: 0x100072,
		Stack1: []string{"mono_open+0x72 (sync.h:15)", "sys_open+0x1a (fs.c:88)"},
		Stack2: []string{"mono_open+0x72 (sync.h:15)", "sys_open+0x1a (fs.c:88)"},
		CPU1:   0, CPU2: 1, Write1: true, Write2: true,
	}
}

// testReport is two kernels on the same handful of tests. mono: 5 tests,
// 3 conflict-free; scalable: 6 tests, 5 conflict-free.
func testReport() *Report {
	open, openLink, linkStat, statStat, unlinkRename :=
		Pair{"open", "open"}, Pair{"open", "link"}, Pair{"link", "stat"}, Pair{"stat", "stat"}, Pair{"unlink", "rename"}
	odd := analysis.Shared{Addr: "</script><b>odd & \"quoted\"", RawAddr: 0x300000, Size: 8,
		Stack1: []string{"mono_link+0x10 (fs.c:12)"}, Stack2: []string{"mono_open+0x20 (fs.c:40)"}, CPU1: 1, CPU2: 0, Write1: false, Write2: true}
	return &Report{
		Model: "posix <fs & vm>",
		Calls: []string{"open", "link", "unlink", "rename", "stat"},
		Kernels: []*Kernel{
			{Name: "mono", Tests: []*Test{
				{ID: 1, Set: 0, Path: 0, Pair: open, Shared: []analysis.Shared{lockShared()}},
				{ID: 2, Set: 0, Path: 1, Pair: open},
				{ID: 3, Set: 1, Path: 0, Pair: openLink, Shared: []analysis.Shared{lockShared(), odd}},
				{ID: 4, Set: 2, Path: 0, Pair: linkStat},
				{ID: 5, Set: 3, Path: 0, Pair: statStat},
			}},
			{Name: "scalable", Tests: []*Test{
				{ID: 1, Set: 0, Path: 0, Pair: open},
				{ID: 2, Set: 0, Path: 1, Pair: open},
				{ID: 3, Set: 1, Path: 0, Pair: openLink},
				{ID: 4, Set: 2, Path: 0, Pair: linkStat, Shared: []analysis.Shared{lockShared()}},
				{ID: 5, Set: 3, Path: 0, Pair: statStat},
				{ID: 6, Set: 4, Path: 0, Pair: unlinkRename},
			}},
		},
	}
}

// xnode is any XML element.
type xnode struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Nodes   []xnode    `xml:",any"`
}

func (n *xnode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n *xnode) child(name string) *xnode {
	for i := range n.Nodes {
		if n.Nodes[i].XMLName.Local == name {
			return &n.Nodes[i]
		}
	}
	return nil
}

type svgCell struct {
	kernel     string
	pair       Pair
	row, col   int
	conflicted int
}

func TestHeatmap(t *testing.T) {
	r := testReport()
	var out bytes.Buffer
	if err := r.WriteHeatmap(&out); err != nil {
		t.Fatal(err)
	}
	svg := out.Bytes()

	// Well-formed XML, every token of it.
	d := xml.NewDecoder(bytes.NewReader(svg))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("heatmap.svg is not XML: %v", err)
		}
	}
	var root xnode
	if err := xml.Unmarshal(svg, &root); err != nil {
		t.Fatal(err)
	}
	if root.XMLName.Space != "http://www.w3.org/2000/svg" || root.XMLName.Local != "svg" || root.attr("version") != "1.1" {
		t.Fatalf("root element %v version %q, want an SVG 1.1 svg", root.XMLName, root.attr("version"))
	}
	if bytes.Contains(svg, []byte("data-")) {
		t.Error("the standalone SVG has data-* attributes, which SVG 1.1 lacks")
	}

	index := map[string]int{}
	for i, c := range r.Calls {
		index[c] = i
	}
	var captions []string
	var cells []svgCell
	nodata := map[string]int{}
	for _, panel := range root.Nodes {
		if panel.attr("class") != "panel" {
			continue
		}
		for _, e := range panel.Nodes {
			switch {
			case e.XMLName.Local == "text" && e.attr("class") == "caption":
				captions = append(captions, e.Text)
			case e.XMLName.Local == "rect" && e.attr("class") == "nodata":
				kernel, _, _ := strings.Cut(e.child("title").Text, ":")
				nodata[kernel]++
			case e.XMLName.Local == "g" && e.attr("class") == "cell":
				// The tooltip: "KERNEL: A × B: N tests, ...".
				title := e.child("title").Text
				kernel, rest, _ := strings.Cut(title, ": ")
				pair, stats, _ := strings.Cut(rest, ": ")
				a, b, _ := strings.Cut(pair, " × ")
				rect := e.child("rect")
				x, _ := strconv.Atoi(rect.attr("x"))
				y, _ := strconv.Atoi(rect.attr("y"))
				c := svgCell{kernel: kernel, pair: Pair{a, b}, row: y / hmCell, col: x / hmCell}
				if text := e.child("text"); text != nil {
					c.conflicted, _ = strconv.Atoi(text.Text)
					if c.conflicted == 0 {
						t.Errorf("cell %s %v writes %q: want no number for no conflicted tests", kernel, c.pair, text.Text)
					}
				}
				if !strings.Contains(stats, "tests") || !strings.Contains(stats, "conflict-free") || !strings.Contains(stats, "%") {
					t.Errorf("cell tooltip %q lacks tests, conflict-free and a percentage", title)
				}
				cells = append(cells, c)
			}
		}
	}

	wantCaptions := []string{"mono (3 of 5 cases scale)", "scalable (5 of 6 cases scale)"}
	if !reflect.DeepEqual(captions, wantCaptions) {
		t.Errorf("captions %q, want %q", captions, wantCaptions)
	}
	want := []svgCell{
		{"mono", Pair{"open", "open"}, 0, 0, 1},
		{"mono", Pair{"open", "link"}, 0, 1, 1},
		{"mono", Pair{"link", "stat"}, 1, 4, 0},
		{"mono", Pair{"stat", "stat"}, 4, 4, 0},
		{"scalable", Pair{"open", "open"}, 0, 0, 0},
		{"scalable", Pair{"open", "link"}, 0, 1, 0},
		{"scalable", Pair{"link", "stat"}, 1, 4, 1},
		{"scalable", Pair{"unlink", "rename"}, 2, 3, 0},
		{"scalable", Pair{"stat", "stat"}, 4, 4, 0},
	}
	if !reflect.DeepEqual(cells, want) {
		t.Errorf("cells\n%v\nwant\n%v", cells, want)
	}
	for _, c := range cells {
		if c.row > c.col || r.Calls[c.row] != c.pair.A || r.Calls[c.col] != c.pair.B {
			t.Errorf("cell %s %v at row %d column %d: want row A, column B, A's index <= B's", c.kernel, c.pair, c.row, c.col)
		}
	}
	// Every other pair of the upper triangle is grey, and nothing more.
	n := len(r.Calls)
	if tri := n * (n + 1) / 2; nodata["mono"] != tri-4 || nodata["scalable"] != tri-5 {
		t.Errorf("grey cells %v, want mono %d, scalable %d", nodata, tri-4, tri-5)
	}

	var again bytes.Buffer
	if err := r.WriteHeatmap(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(svg, again.Bytes()) {
		t.Error("two heat maps of the same report differ")
	}
	if bytes.Contains(svg, []byte("<fs &")) {
		t.Error("the model's name is not escaped")
	}
}

func TestHeatmapEmpty(t *testing.T) {
	for _, r := range []*Report{{}, {Calls: []string{"open"}, Kernels: []*Kernel{{Name: "k"}}}} {
		var out bytes.Buffer
		if err := r.WriteHeatmap(&out); err != nil {
			t.Fatal(err)
		}
		var root xnode
		if err := xml.Unmarshal(out.Bytes(), &root); err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
	}
}

const dataOpen = `<script type="application/json" id="data">`

// embeddedData is the viewer's JSON.
func embeddedData(t *testing.T, page string) string {
	t.Helper()
	_, rest, ok := strings.Cut(page, dataOpen)
	js, _, ok2 := strings.Cut(rest, "</script>")
	if !ok || !ok2 {
		t.Fatal("index.html has no data script")
	}
	return js
}

func TestHTML(t *testing.T) {
	r := testReport()
	var out bytes.Buffer
	if err := r.WriteHTML(&out); err != nil {
		t.Fatal(err)
	}
	page := out.String()

	var back Report
	if err := json.Unmarshal([]byte(embeddedData(t, page)), &back); err != nil {
		t.Fatalf("embedded JSON: %v", err)
	}
	if !reflect.DeepEqual(&back, r) {
		t.Errorf("embedded report\n%+v\nwant\n%+v", back, *r)
	}
	if strings.Contains(page, "</script><b>") || strings.Contains(page, "<fs &") {
		t.Error("report text is not escaped in the page")
	}

	// Self-contained: the SVG namespace is the only URL.
	rest := strings.ReplaceAll(page, `xmlns="http://www.w3.org/2000/svg"`, "")
	for _, bad := range []string{"http://", "https://", "src=", "<link", "@import", "//cdn"} {
		if strings.Contains(rest, bad) {
			t.Errorf("index.html refers outside itself: %q", bad)
		}
	}
	for _, want := range []string{
		`<!DOCTYPE html>`, `id="tests"`, `id="filter"`, `id="show-all"`, `<section id="heatmap">`,
		`<g class="cell" data-kernel="mono" data-a="open" data-b="link">`,
		`<g class="cell" data-kernel="scalable" data-a="unlink" data-b="rename">`,
		"mono (3 of 5 cases scale)", "scalable (5 of 6 cases scale)",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	if n := strings.Count(page, `<g class="cell"`); n != 9 {
		t.Errorf("index.html has %d cells, want 9", n)
	}
	if strings.Contains(page, "<?xml") {
		t.Error("the inline SVG keeps its XML declaration")
	}
}

// chromium is the Chromium in PATH; the test fails without one.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("the viewer's browser test needs Chromium: neither chromium nor chromium-browser is in PATH " +
		"(install it: apt-get install -y chromium; `make deps` does)")
	return ""
}

// runChromium runs headless Chromium with args and returns its standard
// output; a browser that hangs is killed, with its children.
func runChromium(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-sync",
		"--disable-background-networking", "--disable-component-update", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("chromium %v: timed out; stderr:\n%s", args, stderr.String())
	}
	if err != nil {
		t.Fatalf("chromium %v: %v; stderr:\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

// domRow is a tr.test of the dumped DOM.
type domRow struct {
	kernel, a, b, id string
	hidden           bool
}

// domRows lists the tr.test elements of a DOM, in order.
func domRows(dom string) []domRow {
	testRowRE := regexp.MustCompile(`<tr class="test[ "][^>]*>`)
	attrRE := regexp.MustCompile(`([a-z-]+)(?:="([^"]*)")?`)
	var rows []domRow
	for _, tag := range testRowRE.FindAllString(dom, -1) {
		attrs := map[string]string{}
		for _, m := range attrRE.FindAllStringSubmatch(strings.TrimPrefix(tag, "<tr"), -1) {
			attrs[m[1]] = m[2]
		}
		_, hidden := attrs["hidden"]
		rows = append(rows, domRow{attrs["data-kernel"], attrs["data-a"], attrs["data-b"], attrs["data-id"], hidden})
	}
	return rows
}

func TestViewerChromium(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "index.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := testReport().WriteHTML(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	url := "file://" + page

	// Unfiltered: every test listed, none hidden.
	dom := runChromium(t, bin, "--dump-dom", url)
	rows := domRows(dom)
	if len(rows) != 11 {
		t.Fatalf("the page lists %d tests, want 11; DOM:\n%s", len(rows), dom)
	}
	for _, r := range rows {
		if r.hidden {
			t.Errorf("test %+v hidden with no filter", r)
		}
	}
	if !strings.Contains(dom, `<span id="filter">all tests</span>`) {
		t.Error("the filter label does not say all tests")
	}

	// Click mono's open × open, open its test 1.
	hook := "#test-click=mono,open,open&test-expand=mono,1"
	dom = runChromium(t, bin, "--dump-dom", url+hook)
	if regexp.MustCompile(`<body[^>]*data-hook-error`).MatchString(dom) {
		t.Fatalf("the test hook failed; DOM:\n%s", dom)
	}
	var shown []string
	for _, r := range domRows(dom) {
		if !r.hidden {
			shown = append(shown, r.kernel+"/"+r.a+"/"+r.b+"/"+r.id)
		}
	}
	if want := []string{"mono/open/open/1", "mono/open/open/2"}; !reflect.DeepEqual(shown, want) {
		t.Errorf("after the click the page shows %q, want %q", shown, want)
	}
	for _, want := range []string{
		`<span id="filter">mono: open × open</span>`,
		`<g class="cell selected" data-kernel="mono" data-a="open" data-b="open">`,
		"2 of 11 tests shown",
		`<tr class="detail" data-id="1" data-kernel="mono">`, // opened, so not hidden
		"struct mono_fs:0.lock.locked", "<li>mono_open+0x72 (sync.h:15)</li>", "<li>sys_open+0x1a (fs.c:88)</li>",
		"CPU 0", "CPU 1", `<span class="access write">write</span>`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("after the click the DOM lacks %q", want)
		}
	}

	// A screenshot of the filtered page: a real picture, not a blank one.
	shot := filepath.Join(dir, "shot.png")
	runChromium(t, bin, "--screenshot="+shot, "--window-size=1400,900", url+hook)
	st, err := os.Stat(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	if st.Size() < 8<<10 {
		t.Errorf("screenshot is %d bytes, want a few KB at least", st.Size())
	}
	sf, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	img, err := png.Decode(sf)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1400 || b.Dy() != 900 {
		t.Errorf("screenshot is %v, want 1400x900", b)
	}
	colours := map[[3]uint32]bool{}
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y += 3 {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x += 3 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 8, g >> 8, b >> 8}] = true
		}
	}
	if len(colours) < 20 {
		t.Errorf("screenshot has %d colours: blank?", len(colours))
	}
}
