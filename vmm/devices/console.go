package devices

import (
	"io"
	"sync"

	"github.com/crewvm/crewvm/vmm/abi"
)

// Console is the guest's serial port, transmit only, and the sink of
// HC_CONSOLE: both write to one writer, serialised across vCPU threads.
type Console struct {
	mu sync.Mutex
	w  io.Writer
}

// NewConsole writes the guest's console output to w.
func NewConsole(w io.Writer) *Console { return &Console{w: w} }

// Write writes guest console bytes.
func (c *Console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.w.Write(p)
}

// PortIO serves an access to port: data holds what an out wrote or
// receives what an in reads. The serial data port prints, its line
// status register says the transmitter is always empty, and any other
// port reads as all ones, as a port without a device does on real
// hardware.
func (c *Console) PortIO(port uint64, out bool, data []byte) {
	switch {
	case port == abi.PortSerial && out:
		c.Write(data)
	case port == abi.PortSerialLSR && !out:
		for i := range data {
			data[i] = abi.SerialLSRReady
		}
	case !out:
		for i := range data {
			data[i] = 0xff
		}
	}
}
