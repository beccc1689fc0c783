//go:build !linux

package main

import "errors"

func openLive(string, uint16) (liveHandle, error) {
	return nil, errors.New("live capture needs Linux; read a capture file with -r instead")
}
