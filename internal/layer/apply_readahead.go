package layer

import (
	"io"
	"sync"
)

// readahead reads its source in a goroutine of its own, a few blocks
// ahead of its reader, so that reading, hashing and decompressing the
// layer overlap with writing files.
type readahead struct {
	full  chan block
	free  chan []byte
	quit  chan struct{}
	done  sync.WaitGroup
	cur   []byte
	spent []byte // the block cur points into, to be recycled
	err   error
}

type block struct {
	b   []byte
	err error
}

const (
	readaheadBlock  = 1 << 20
	readaheadBlocks = 8
)

func newReadahead(r io.Reader) *readahead {
	ra := &readahead{
		full: make(chan block, readaheadBlocks),
		free: make(chan []byte, readaheadBlocks+1),
		quit: make(chan struct{}),
	}
	for range readaheadBlocks + 1 {
		ra.free <- nil // allocated from blocks when first needed
	}
	ra.done.Add(1)
	go ra.fill(r)
	return ra
}

// fill reads r into free blocks until r ends or fails or Close is called.
func (ra *readahead) fill(r io.Reader) {
	defer ra.done.Done()
	for {
		var buf []byte
		select {
		case buf = <-ra.free:
		case <-ra.quit:
			return
		}
		if buf == nil {
			buf = getBlock()
		}
		n, err := io.ReadFull(r, buf)
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		if n > 0 || err != nil {
			select {
			case ra.full <- block{b: buf[:n], err: err}:
			case <-ra.quit:
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Read implements io.Reader.
func (ra *readahead) Read(p []byte) (int, error) {
	for len(ra.cur) == 0 {
		if ra.err != nil {
			return 0, ra.err
		}
		if ra.spent != nil {
			ra.free <- ra.spent[:cap(ra.spent)]
			ra.spent = nil
		}
		blk := <-ra.full
		ra.cur, ra.spent, ra.err = blk.b, blk.b, blk.err
		if len(blk.b) == 0 {
			ra.spent = blk.b
		}
	}
	n := copy(p, ra.cur)
	ra.cur = ra.cur[n:]
	return n, nil
}

// Close stops the goroutine and waits for it, so the source may be
// closed, and recycles the blocks.
func (ra *readahead) Close() error {
	close(ra.quit)
	ra.done.Wait()
	for {
		select {
		case b := <-ra.free:
			putBlock(b)
		case blk := <-ra.full:
			putBlock(blk.b)
		default:
			putBlock(ra.spent)
			ra.spent, ra.cur = nil, nil
			return nil
		}
	}
}

// blocks recycles 1 MiB buffers across extractions.
var blocks = sync.Pool{New: func() any { return new([readaheadBlock]byte) }}

func getBlock() []byte { return blocks.Get().(*[readaheadBlock]byte)[:] }

func putBlock(b []byte) {
	if cap(b) == readaheadBlock {
		blocks.Put((*[readaheadBlock]byte)(b[:readaheadBlock]))
	}
}
