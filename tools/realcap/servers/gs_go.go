// A Go net/http target (standard library only) for tools/realcap/record_gosrv.sh: the
// server's timeouts come from the environment, its handlers fail the ways Go services do.
//
//	go build -o gs_go gs_go.go
//	IDLE=2s WRITE=3s READ=0 ./gs_go 0.0.0.0:8080
//
// IDLE, READ, READHDR and WRITE set http.Server's IdleTimeout, ReadTimeout, ReadHeaderTimeout
// and WriteTimeout (Go durations; unset or 0 = Go's default: none; IdleTimeout 0 falls back
// to ReadTimeout). With TLS_CERT and TLS_KEY set it serves TLS (HTTP/2 by ALPN, as Go's
// standard library does on its own) and writes its TLS keys to KEYLOG (NSS key log format).
// Paths (the first segment picks the mode, the rest is a free label):
//
//	/ok/...            200, small body
//	/health            200 (the stand-in's health check)
//	/slow/N/...        sleeps N seconds, then 200
//	/panic/head/...    panics before writing: net/http recovers, closes, no answer
//	/panic/body/...    Content-Length 1000, 100 bytes flushed, panic(http.ErrAbortHandler)
//	/short/...         Content-Length 1000, 100 bytes written, returns: Go closes after them
//	/hijack/close/...  http.Hijacker, then Close (FIN, no answer)
//	/hijack/rst/...    http.Hijacker, SO_LINGER 0, then Close (RST, no answer)
//	/hijack/rstbody/...  Content-Length 1000, 100 bytes flushed, then as /hijack/rst/ (RST
//	                   mid-response)
//	/wt/head/N/...     sleeps N seconds (past WriteTimeout), then writes 200: the write fails
//	/wt/body/N/...     200 chunked, one chunk flushed, sleeps N seconds, writes more: cut
//	/status/N/...      http.Error with status N
//	/th/N/...          http.TimeoutHandler (1 s) around a handler sleeping N seconds: 503
//	/upload/...        reads the whole body; a read error (ReadTimeout) is answered 400
//	/close/...         200 with Connection: close
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

func envDuration(name string) time.Duration {
	v := os.Getenv(name)
	if v == "" || v == "0" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		log.Fatalf("%s=%q: %v", name, v, err)
	}
	return d
}

func seconds(s string) time.Duration {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return time.Second
	}
	return time.Duration(f * float64(time.Second))
}

func ok(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "ok %s\n", r.URL.Path)
}

func handler(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	arg := func(i int) string {
		if i < len(parts) {
			return parts[i]
		}
		return ""
	}
	log.Printf("%s %s %s from %s", r.Proto, r.Method, r.URL.Path, r.RemoteAddr)
	switch parts[0] {
	case "ok", "health", "race":
		ok(w, r)
	case "close":
		w.Header().Set("Connection", "close")
		ok(w, r)
	case "slow":
		time.Sleep(seconds(arg(1)))
		ok(w, r)
	case "panic":
		if arg(1) == "body" {
			w.Header().Set("Content-Length", "1000")
			w.Write([]byte(strings.Repeat("p", 100)))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		panic("handler failed")
	case "short":
		w.Header().Set("Content-Length", "1000")
		w.Write([]byte(strings.Repeat("s", 100)))
	case "hijack":
		if arg(1) == "rstbody" {
			w.Header().Set("Content-Length", "1000")
			w.Write([]byte(strings.Repeat("r", 100)))
			w.(http.Flusher).Flush()
		}
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			log.Printf("hijack: %v", err)
			return
		}
		if arg(1) == "rst" || arg(1) == "rstbody" {
			raw := conn
			// over TLS the TCP socket is under the TLS connection; closing it without
			// close_notify, SO_LINGER 0: a bare RST
			if t, ok := conn.(*tls.Conn); ok {
				raw = t.NetConn()
			}
			if tc, ok := raw.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			raw.Close()
			return
		}
		conn.Close()
	case "wt":
		if arg(1) == "body" {
			w.Write([]byte(strings.Repeat("w", 100)))
			w.(http.Flusher).Flush()
			time.Sleep(seconds(arg(2)))
			_, err := w.Write([]byte(strings.Repeat("x", 100)))
			log.Printf("late write: %v", err)
			return
		}
		time.Sleep(seconds(arg(2)))
		ok(w, r)
	case "status":
		code, err := strconv.Atoi(arg(1))
		if err != nil {
			code = 500
		}
		http.Error(w, http.StatusText(code), code)
	case "th":
		slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(seconds(arg(1)))
			ok(w, r)
		})
		http.TimeoutHandler(slow, time.Second, "handler timeout\n").ServeHTTP(w, r)
	case "upload":
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			log.Printf("upload after %d bytes: %v", n, err)
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "got %d bytes\n", n)
	default:
		http.NotFound(w, r)
	}
}

func main() {
	addr := "0.0.0.0:8080"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	srv := &http.Server{
		Addr:              addr,
		Handler:           http.HandlerFunc(handler),
		IdleTimeout:       envDuration("IDLE"),
		ReadTimeout:       envDuration("READ"),
		ReadHeaderTimeout: envDuration("READHDR"),
		WriteTimeout:      envDuration("WRITE"),
	}
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	log.Printf("listening on %s: idle %v read %v read-header %v write %v", addr,
		srv.IdleTimeout, srv.ReadTimeout, srv.ReadHeaderTimeout, srv.WriteTimeout)
	if cert, key := os.Getenv("TLS_CERT"), os.Getenv("TLS_KEY"); cert != "" && key != "" {
		srv.TLSConfig = &tls.Config{}
		if path := os.Getenv("KEYLOG"); path != "" {
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				log.Fatal(err)
			}
			srv.TLSConfig.KeyLogWriter = f
		}
		log.Fatal(srv.ListenAndServeTLS(cert, key))
	}
	log.Fatal(srv.ListenAndServe())
}
