package report

import (
	"bufio"
	"strings"
	"testing"
)

func TestCSVWriter(t *testing.T) {
	var b strings.Builder
	w := bufio.NewWriter(&b)
	c := csvWriter{w}
	c.writeRecord([]field{{"plain", true}, {"", false}, {"", true}, {`say "hi"`, true}, {"a,b", true}, {"two\r\nlines", true}, {" spaced ", true}})
	c.writeRecord([]field{{"", false}})
	w.Flush()
	want := "plain,,\"\",\"say \"\"hi\"\"\",\"a,b\",\"two\r\nlines\", spaced \r\n\"\"\r\n"
	if b.String() != want {
		t.Errorf("got  %q\nwant %q", b.String(), want)
	}
}
