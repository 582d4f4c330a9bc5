// Command tool is the tiny static binary the containerd end-to-end test
// runs: "pause" is the pod sandbox (waits for SIGTERM), "list DIR" prints
// every path below DIR with its mode and content hash (or link target), so
// the test can compare what an image volume shows with the source tree.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: tool pause | tool list DIR")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "pause":
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
	case "list":
		root := os.Args[2]
		err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if rel == "." {
				return nil
			}
			data := ""
			switch {
			case info.Mode()&os.ModeSymlink != 0:
				data, _ = os.Readlink(p)
			case info.Mode().IsRegular():
				f, err := os.Open(p)
				if err != nil {
					return err
				}
				h := sha256.New()
				_, err = io.Copy(h, f) // streamed: model shards are gigabytes
				f.Close()
				if err != nil {
					return err
				}
				data = hex.EncodeToString(h.Sum(nil))
			}
			fmt.Printf("%s\t%d\t%s\n", rel, uint32(info.Mode()), data)
			return nil
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
