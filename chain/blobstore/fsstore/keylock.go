package fsstore

import (
	"context"
	"sync"

	"github.com/exhibit-forensics/exhibit/chain"
)

// keyLocks is a set of mutexes, one per hash in use, that can be waited
// for with a context. Entries are dropped when nobody holds or waits for
// them, so the set stays as small as the number of blobs being committed.
type keyLocks struct {
	mu sync.Mutex
	m  map[chain.Hash]*keyLock
}

type keyLock struct {
	token chan struct{} // capacity 1; full while the lock is held
	refs  int           // holders and waiters; guarded by keyLocks.mu
}

// lock acquires the lock for h, or returns ctx.Err() if ctx ends first.
// The returned function releases it.
func (k *keyLocks) lock(ctx context.Context, h chain.Hash) (unlock func(), err error) {
	k.mu.Lock()
	if k.m == nil {
		k.m = make(map[chain.Hash]*keyLock)
	}
	l := k.m[h]
	if l == nil {
		l = &keyLock{token: make(chan struct{}, 1)}
		k.m[h] = l
	}
	l.refs++
	k.mu.Unlock()

	select {
	case l.token <- struct{}{}:
		return func() {
			<-l.token
			k.release(h, l)
		}, nil
	case <-ctx.Done():
		k.release(h, l)
		return nil, ctx.Err()
	}
}

func (k *keyLocks) release(h chain.Hash, l *keyLock) {
	k.mu.Lock()
	l.refs--
	if l.refs == 0 {
		delete(k.m, h)
	}
	k.mu.Unlock()
}
