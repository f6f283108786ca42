package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// A flooder as cheap as a remote client: one request signed once with
// SigV4 (the signature stays valid for the server's 5-minute clock skew,
// and SigV4 has no nonce) and replayed byte for byte over keep-alive
// connections. Its CPU per request is a write and the parsing of a short
// response, so that the server, not the driver, is what a benchmark of a
// flood measures.

// presign returns the bytes of a signed KMS request of target with body.
func presign(tb testing.TB, url, region string, creds aws.Credentials, target, body string) []byte {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/", bytes.NewReader([]byte(body)))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService."+target)
	req.Header.Set("User-Agent", "rawflood")
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "kms", region, time.Now()); err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// rawConn sends pre-signed requests on one keep-alive connection.
type rawConn struct {
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(addr string) (*rawConn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &rawConn{c: c, br: bufio.NewReader(c)}, nil
}

// do sends req and returns the response's status and error type.
func (rc *rawConn) do(req []byte) (status int, errType string, err error) {
	if _, err := rc.c.Write(req); err != nil {
		return 0, "", err
	}
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		return 0, "", err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), err
}

// floodResult is what a raw flood saw.
type floodResult struct {
	Sent, OK, Throttled, Other, Dropped int
	P50, P99                            time.Duration // from the scheduled time
	Err                                 error
}

// rawFlood sends req to addr on an open loop at rate a second for d, on
// up to conns connections at once; a request whose turn comes while all
// connections are busy waits (its latency counts from its turn), and one
// that would wait behind more than 4096 others is dropped.
func rawFlood(ctx context.Context, addr string, req []byte, rate float64, d time.Duration, conns int) floodResult {
	turns := make(chan time.Time, 4096)
	var (
		mu  sync.Mutex
		res floodResult
		lat []time.Duration
	)
	var wg sync.WaitGroup
	for range conns {
		rc, err := dialRaw(addr)
		if err != nil {
			return floodResult{Err: err}
		}
		wg.Go(func() {
			defer rc.c.Close()
			var mine []time.Duration
			ok, throttled, other := 0, 0, 0
			var ferr error
			for at := range turns {
				if ferr != nil {
					continue
				}
				status, typ, err := rc.do(req)
				mine = append(mine, time.Since(at))
				switch {
				case err != nil:
					ferr = err
				case status == http.StatusOK:
					ok++
				case typ == "ThrottlingException":
					throttled++
				default:
					other++
				}
			}
			mu.Lock()
			defer mu.Unlock()
			lat = append(lat, mine...)
			res.OK, res.Throttled, res.Other = res.OK+ok, res.Throttled+throttled, res.Other+other
			if ferr != nil && res.Err == nil {
				res.Err = ferr
			}
		})
	}
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	sent, dropped := 0, 0
	for i := 0; ; i++ {
		at := start.Add(time.Duration(i) * interval)
		if at.Sub(start) >= d || ctx.Err() != nil {
			break
		}
		if w := time.Until(at); w > 0 {
			time.Sleep(w)
		}
		select {
		case turns <- at:
			sent++
		default:
			dropped++
		}
	}
	close(turns)
	wg.Wait()
	res.Sent, res.Dropped = sent, dropped
	if len(lat) > 0 {
		slices.Sort(lat)
		res.P50, res.P99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	return res
}

// Environment of a flooder process (rawFloodProcess).
const (
	envFloodAddr = "KMS_RAWFLOOD_ADDR" // host:port
	envFloodReq  = "KMS_RAWFLOOD_REQ"  // file holding the pre-signed request
	envFloodRate = "KMS_RAWFLOOD_RATE" // requests a second
	envFloodFor  = "KMS_RAWFLOOD_FOR"  // duration
)

// TestRawFloodProcess is the flooder run in a process of its own by
// rawFloodProcess; without its environment it does nothing.
func TestRawFloodProcess(t *testing.T) {
	addr := os.Getenv(envFloodAddr)
	if addr == "" {
		t.Skip("run by rawFloodProcess")
	}
	req, err := os.ReadFile(os.Getenv(envFloodReq))
	if err != nil {
		t.Fatal(err)
	}
	var rate float64
	var d time.Duration
	if _, err := fmt.Sscan(os.Getenv(envFloodRate), &rate); err != nil {
		t.Fatal(err)
	}
	if d, err = time.ParseDuration(os.Getenv(envFloodFor)); err != nil {
		t.Fatal(err)
	}
	r := rawFlood(context.Background(), addr, req, rate, d, 64)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	fmt.Printf("rawflood %d %d %d %d %d %d\n", r.Sent, r.OK, r.Throttled, r.Other, r.Dropped, r.P99)
}

// rawFloodProcess runs rawFlood in another process: this test binary
// again, under taskset -c cpus if cpus is not "".
func rawFloodProcess(tb testing.TB, addr string, req []byte, rate float64, d time.Duration, cpus string) floodResult {
	f := filepath.Join(tb.TempDir(), "request")
	if err := os.WriteFile(f, req, 0o600); err != nil {
		tb.Fatal(err)
	}
	args := []string{os.Args[0], "-test.run", "^TestRawFloodProcess$", "-test.count", "1"}
	if cpus != "" {
		args = append([]string{"taskset", "-c", cpus}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), envFloodAddr+"="+addr, envFloodReq+"="+f,
		fmt.Sprintf("%s=%v", envFloodRate, rate), envFloodFor+"="+d.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		return floodResult{Err: fmt.Errorf("flooder process: %v: %s", err, out)}
	}
	var r floodResult
	i := bytes.Index(out, []byte("rawflood "))
	if i < 0 {
		return floodResult{Err: fmt.Errorf("flooder process: no result in %q", out)}
	}
	if _, err := fmt.Sscan(string(out[i+len("rawflood "):]), &r.Sent, &r.OK, &r.Throttled, &r.Other, &r.Dropped, &r.P99); err != nil {
		return floodResult{Err: fmt.Errorf("flooder process: %v in %q", err, out)}
	}
	return r
}
