package runtime

import "unsafe"

// unsafePointer converts a byte's address for reading a kernel structure
// (an inotify event) in place.
func unsafePointer(b *byte) unsafe.Pointer { return unsafe.Pointer(b) }
