package adbudget

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// segmentName is the file name of segment n.
func segmentName(n int64) string { return fmt.Sprintf("segment-%d.jsonl", n) }

// segmentNumber reads n from a segment's file name; false for any other file.
func segmentNumber(name string) (int64, bool) {
	digits, ok := strings.CutPrefix(name, "segment-")
	if !ok {
		return 0, false
	}
	digits, ok = strings.CutSuffix(digits, ".jsonl")
	if !ok || digits == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// listSegments returns the segment numbers in dir, oldest first.
func listSegments(dir string) ([]int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var ns []int64
	for _, e := range entries {
		if n, ok := segmentNumber(e.Name()); ok && e.Type().IsRegular() {
			ns = append(ns, n)
		}
	}
	slices.Sort(ns)
	return ns, nil
}

// segmentContent is what a segment holds: its events, and the lines that were not read back
// (docs/sdk.md, Spool).
type segmentContent struct {
	events []SpendEvent
	// torn is the fragment after the last newline, when there is one: a write that did not
	// complete, so its report never answered. It is skipped (and kept in torn.jsonl).
	torn []byte
	// corrupt are whole lines that are not an event: a damaged file, or one edited by hand.
	// They are not sent, and never dropped in silence: they go to rejected.jsonl.
	corrupt [][]byte
}

// parseSegment reads a segment's bytes.
func parseSegment(data []byte) segmentContent {
	var c segmentContent
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			c.torn = data
			break
		}
		line := data[:i]
		data = data[i+1:]
		if len(line) == 0 {
			continue
		}
		e, err := decodeSpoolLine(line)
		if err != nil {
			c.corrupt = append(c.corrupt, line)
			continue
		}
		c.events = append(c.events, e)
	}
	return c
}

// readSegment reads segment n of dir.
func readSegment(dir string, n int64) (segmentContent, error) {
	data, err := os.ReadFile(filepath.Join(dir, segmentName(n)))
	if err != nil {
		return segmentContent{}, err
	}
	return parseSegment(data), nil
}
