module github.com/crewvm/crewvm

go 1.26.0

require (
	github.com/bobuhiro11/gokvm v0.0.8-0.20231003020000-f53faca69d28
	github.com/klauspost/compress v1.20.3
	github.com/spf13/pflag v1.0.10
	github.com/zeebo/xxh3 v1.1.0
	golang.org/x/arch v0.32.0
	golang.org/x/sys v0.49.0
)

require github.com/klauspost/cpuid/v2 v2.2.10 // indirect
