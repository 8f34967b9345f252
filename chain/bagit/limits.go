package bagit

// Limits bound what OpenZip and Validate accept from an untrusted zip. A
// zero field means the default given in its comment; DefaultLimits returns
// them all.
type Limits struct {
	// MaxEntries bounds the number of zip entries (default 100 000). It is
	// checked against the end record before the central directory is read.
	MaxEntries int
	// MaxDirectorySize bounds the central directory in bytes (default
	// 64 MiB), also checked before it is read.
	MaxDirectorySize int64
	// MaxNameLength bounds an entry name in bytes (default 1024).
	MaxNameLength int
	// MaxEntrySize bounds one entry's uncompressed size (default 64 GiB).
	MaxEntrySize int64
	// MaxTotalSize bounds the sum of uncompressed sizes (default 1 TiB).
	MaxTotalSize int64
	// MaxRatio bounds uncompressed/compressed size for deflated entries
	// larger than RatioFloor (default 200).
	MaxRatio int64
	// RatioFloor is the uncompressed size below which MaxRatio is not
	// applied (default 1 MiB): small files may compress very well and
	// cannot do harm.
	RatioFloor int64
	// MaxTagFileSize bounds the tag files Validate parses in memory
	// (bagit.txt, bag-info.txt, manifests) and the default cap of ReadFile
	// (default 32 MiB, enough for manifests of 100 000 files).
	MaxTagFileSize int64
	// MaxProblems bounds how many problems a Report records (default
	// 1000); further problems are counted in one ErrTooManyProblems entry.
	MaxProblems int
}

// DefaultLimits returns the limits used for zero fields.
func DefaultLimits() Limits {
	return Limits{
		MaxEntries:       100_000,
		MaxDirectorySize: 64 << 20,
		MaxNameLength:    1024,
		MaxEntrySize:     64 << 30,
		MaxTotalSize:     1 << 40,
		MaxRatio:         200,
		RatioFloor:       1 << 20,
		MaxTagFileSize:   32 << 20,
		MaxProblems:      1000,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxEntries <= 0 {
		l.MaxEntries = d.MaxEntries
	}
	if l.MaxDirectorySize <= 0 {
		l.MaxDirectorySize = d.MaxDirectorySize
	}
	if l.MaxNameLength <= 0 {
		l.MaxNameLength = d.MaxNameLength
	}
	if l.MaxEntrySize <= 0 {
		l.MaxEntrySize = d.MaxEntrySize
	}
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = d.MaxTotalSize
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = d.MaxRatio
	}
	if l.RatioFloor <= 0 {
		l.RatioFloor = d.RatioFloor
	}
	if l.MaxTagFileSize <= 0 {
		l.MaxTagFileSize = d.MaxTagFileSize
	}
	if l.MaxProblems <= 0 {
		l.MaxProblems = d.MaxProblems
	}
	return l
}
