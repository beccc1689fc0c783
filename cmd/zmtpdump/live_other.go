//go:build !linux

package main

import (
	"errors"

	"github.com/gopacket/gopacket"
)

type liveHandle interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	Close() error
}

var livePort uint16

func openLive(string) (liveHandle, error) {
	return nil, errors.New("live capture needs Linux; read a capture file with -r instead")
}
