package machine

// ServeExit serves v's last exit under engine e as the exit loop does,
// for the probes that drive a vCPU one KVM_RUN at a time.
func ServeExit(m *Machine, v *VCPU, e Engine) error {
	m.engine = e
	return m.handleExit(v)
}
