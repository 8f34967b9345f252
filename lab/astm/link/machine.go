package link

import (
	"fmt"
	"strings"
)

// State is a state of the link.
type State uint8

// States. E1381 names three phases (establishment, transfer, termination)
// and a neutral state; the waits it prescribes become states of their own so
// that every timer belongs to exactly one state.
const (
	// Idle is the neutral state: nobody holds the line. No timer.
	Idle State = iota
	// Establishing: we sent ENQ and wait for the reply (15 s).
	Establishing
	// Sending: we sent a frame and wait for the reply (15 s).
	Sending
	// BusyWait: the receiver answered our ENQ with NAK; we wait 10 s
	// before the next ENQ.
	BusyWait
	// Contention: both sides sent ENQ. The instrument wins and waits 1 s
	// before its next ENQ; the host gives way and waits up to 20 s for that
	// ENQ.
	Contention
	// Receiving: we accepted an ENQ and wait for a frame or EOT (30 s).
	Receiving
	// Hold: we honoured a receiver interrupt, or gave up on a reply, and
	// leave the line to the other side for 15 s.
	Hold
)

var stateNames = [...]string{"idle", "establishing", "sending", "busy-wait", "contention", "receiving", "hold"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Event is what happened, already classified by the state it happened in.
type Event uint8

// Events.
const (
	EvSend           Event = iota // a message is queued to send and the link is idle
	EvENQ                         // ENQ arrived and the upper layer can take a message
	EvENQBusy                     // ENQ arrived and Config.Busy says it cannot
	EvACK                         // ACK to ENQ, or to a frame with more to follow
	EvACKLast                     // ACK (or an ignored interrupt) to the last frame
	EvNAK                         // NAK, or any reply but ACK/NAK/EOT to a frame, attempts remain
	EvNAKLimit                    // the same, for the last allowed attempt
	EvEOT                         // EOT
	EvInterrupt                   // EOT in reply to a frame: a receiver interrupt we honour
	EvFrame                       // a new frame, accepted by the upper layer
	EvFrameInterrupt              // the same, while a send waits and interrupts are enabled
	EvFrameRefused                // a new frame the upper layer refused
	EvFrameRepeat                 // the last accepted frame again: a retransmission
	EvFrameBad                    // a frame with a bad checksum, number or shape
	EvTimeout                     // the state's timer ran out
	EvCancel                      // the message being sent was cancelled by its caller
	EvStale                       // a reply read before our ENQ or frame went out
	EvENQNoise                    // ENQ again before frame 1, sooner than a sender retries
	EvOther                       // anything else
)

var eventNames = [...]string{"send", "enq", "enq-busy", "ack", "ack-last", "nak", "nak-limit", "eot",
	"interrupt", "frame", "frame-interrupt", "frame-refused", "frame-repeat", "frame-bad", "timeout", "cancel", "stale", "enq-noise", "other"}

func (e Event) String() string {
	if int(e) < len(eventNames) {
		return eventNames[e]
	}
	return fmt.Sprintf("Event(%d)", uint8(e))
}

// Role is the side of the link: the host (computer system) or the
// instrument. They differ only in contention.
type Role uint8

// Roles.
const (
	Host Role = iota + 1
	Instrument
)

func (r Role) String() string {
	switch r {
	case Host:
		return "host"
	case Instrument:
		return "instrument"
	}
	return "any"
}

// A Transition is one row of the state table.
type Transition struct {
	From   State
	Event  Event
	Role   Role // 0: both roles
	To     State
	Action string
	do     func(l *Link)
}

// table is the link's behaviour. A (state, event) pair that is not listed is
// ignored: the state and its timer stay as they are.
var table = []Transition{
	{Idle, EvSend, 0, Establishing, "send ENQ; start reply timer (15 s)", (*Link).sendENQ},
	{Idle, EvENQ, 0, Receiving, "send ACK; expect frame 1; start receive timer (30 s)", (*Link).acceptENQ},
	{Idle, EvENQBusy, 0, Idle, "send NAK (busy) and report it", (*Link).refuseENQ},

	{Establishing, EvACK, 0, Sending, "send frame 1; start reply timer (15 s)", (*Link).sendFirst},
	{Establishing, EvNAK, 0, BusyWait, "start busy timer (10 s)", (*Link).busyWait},
	{Establishing, EvENQ, Instrument, Contention, "contention, instrument wins: start contention timer (1 s)", (*Link).contend},
	{Establishing, EvENQBusy, Instrument, Contention, "contention, instrument wins: start contention timer (1 s)", (*Link).contend},
	{Establishing, EvENQ, Host, Contention, "contention, host gives way: start contention timer (20 s)", (*Link).contend},
	{Establishing, EvENQBusy, Host, Contention, "contention, host gives way: start contention timer (20 s)", (*Link).contend},
	{Establishing, EvStale, 0, Establishing, "ignore it; the reply timer runs on", (*Link).ignore},
	{Establishing, EvTimeout, 0, Hold, "send EOT; the send fails (no reply); hold the line for the reply timer (15 s), so that a late reply is not taken for the next one", (*Link).abortNoReply},
	{Establishing, EvCancel, 0, Idle, "send EOT; the send fails (cancelled)", (*Link).abortCancelled},

	{Sending, EvACK, 0, Sending, "send next frame (number +1, 7 wraps to 0); start reply timer (15 s)", (*Link).sendNext},
	{Sending, EvACKLast, 0, Idle, "send EOT; the send succeeds", (*Link).finish},
	{Sending, EvNAK, 0, Sending, "send the same frame again; start reply timer (15 s)", (*Link).resend},
	{Sending, EvNAKLimit, 0, Idle, "send EOT; the send fails (6 attempts refused)", (*Link).abortNAKs},
	{Sending, EvInterrupt, 0, Hold, "frame accepted; send EOT; start hold timer (15 s); the send succeeds if that was the last frame, else fails (interrupted)", (*Link).honourInterrupt},
	{Sending, EvStale, 0, Sending, "ignore it; the reply timer runs on", (*Link).ignore},
	{Sending, EvTimeout, 0, Hold, "send EOT; the send fails (no reply); hold the line for the reply timer (15 s), so that a late reply is not taken for the next one", (*Link).abortNoReply},
	{Sending, EvCancel, 0, Idle, "send EOT; the send fails (cancelled)", (*Link).abortCancelled},

	{BusyWait, EvTimeout, 0, Establishing, "send ENQ; start reply timer (15 s)", (*Link).sendENQ},
	{BusyWait, EvENQ, 0, Receiving, "send ACK; expect frame 1; start receive timer (30 s); our send waits", (*Link).acceptENQ},
	{BusyWait, EvENQBusy, 0, BusyWait, "send NAK (busy) and report it", (*Link).refuseENQ},
	{BusyWait, EvCancel, 0, Idle, "the send fails (cancelled)", (*Link).dropCancelled},

	{Contention, EvTimeout, Instrument, Establishing, "send ENQ; start reply timer (15 s)", (*Link).sendENQ},
	{Contention, EvENQ, Host, Receiving, "send ACK; expect frame 1; start receive timer (30 s); our send waits", (*Link).acceptENQ},
	{Contention, EvENQBusy, Host, Contention, "send NAK (busy) and report it", (*Link).refuseENQ},
	{Contention, EvTimeout, Host, Idle, "no ENQ came: our send starts again from idle", (*Link).noop},
	{Contention, EvCancel, 0, Idle, "the send fails (cancelled)", (*Link).dropCancelled},

	{Receiving, EvFrame, 0, Receiving, "send ACK; expect next number; restart receive timer (30 s)", (*Link).ackFrame},
	{Receiving, EvFrameInterrupt, 0, Receiving, "send EOT for ACK (receiver interrupt: frame accepted, please stop); restart receive timer (30 s)", (*Link).interruptFrame},
	{Receiving, EvFrameRefused, 0, Receiving, "send NAK (the upper layer could not keep it) and report it; restart receive timer (30 s)", (*Link).nakFrame},
	{Receiving, EvFrameRepeat, 0, Receiving, "send ACK; ignore the copy; restart receive timer (30 s)", (*Link).ackRepeat},
	{Receiving, EvFrameBad, 0, Receiving, "send NAK and report it; restart receive timer (30 s)", (*Link).nakFrame},
	{Receiving, EvEOT, 0, Idle, "transfer complete: tell the upper layer (abandoned, if the last frame stands refused)", (*Link).endTransfer},
	{Receiving, EvENQ, 0, Receiving, "sender restarted: discard the partial transfer (tell the upper layer); send ACK; expect frame 1; restart receive timer (30 s)", (*Link).restartTransfer},
	{Receiving, EvENQNoise, 0, Receiving, "no answer; expect frame 1; the receive timer runs on", (*Link).ignore},
	{Receiving, EvENQBusy, 0, Idle, "sender restarted: discard the partial transfer (tell the upper layer); send NAK (busy) and report it", (*Link).restartBusy},
	{Receiving, EvTimeout, 0, Idle, "discard the partial message: tell the upper layer (timeout)", (*Link).receiveTimeout},

	{Hold, EvENQ, 0, Receiving, "send ACK; expect frame 1; start receive timer (30 s)", (*Link).acceptENQ},
	{Hold, EvENQBusy, 0, Hold, "send NAK (busy) and report it", (*Link).refuseENQ},
	{Hold, EvTimeout, 0, Idle, "the line is ours again: waiting sends start", (*Link).noop},
}

// Table returns the state table in order. Pairs not listed are ignored.
func Table() []Transition { return append([]Transition(nil), table...) }

// find returns the row for (s, e) in role r.
func find(s State, e Event, r Role) (*Transition, bool) {
	for i := range table {
		t := &table[i]
		if t.From == s && t.Event == e && (t.Role == 0 || t.Role == r) {
			return t, true
		}
	}
	return nil, false
}

// FormatTable returns the state table as a Markdown table.
func FormatTable() string {
	var b strings.Builder
	b.WriteString("| state | event | role | next state | action |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, t := range table {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", t.From, t.Event, t.Role, t.To, t.Action)
	}
	return b.String()
}

// FormatEvents returns the event descriptions as a Markdown list.
func FormatEvents() string {
	desc := map[Event]string{
		EvSend:           "a message is queued to send (acted on only when idle)",
		EvENQ:            "ENQ arrived and the upper layer can take a message",
		EvENQBusy:        "ENQ arrived and Config.Busy reports the upper layer cannot",
		EvACK:            "ACK in reply to ENQ, or to a frame that is not the last",
		EvACKLast:        "ACK in reply to the last frame (also an EOT reply when interrupts are ignored)",
		EvNAK:            "NAK — or any reply other than ACK, NAK or EOT — to a frame, with attempts left; NAK to ENQ",
		EvNAKLimit:       "the same, refusing the 6th attempt at one frame",
		EvEOT:            "EOT from the sender",
		EvInterrupt:      "EOT in reply to a frame: the frame is accepted and the receiver asks us to stop",
		EvFrame:          "a valid frame with the expected number, which the upper layer accepted",
		EvFrameInterrupt: "the same while a send of ours waits and Config.Interrupt is set (once per transfer)",
		EvFrameRefused:   "a valid new frame the upper layer refused (e.g. it could not store the message)",
		EvFrameRepeat:    "a valid frame identical to the last accepted one, same number: a retransmission",
		EvFrameBad:       "a frame with a bad checksum, a frame number out of sequence, a restricted character, too long text or a broken trailer, or cut short by ENQ, ACK, NAK or EOT",
		EvTimeout:        "the state's timer ran out",
		EvCancel:         "the caller of Send gave up (its context ended)",
		EvStale:          "ACK, NAK, EOT or anything but ENQ that was read before our ENQ or frame began to go out: it cannot answer it, and taking it for the answer would put every later reply one step behind",
		EvENQNoise:       "ENQ while receiving, before any frame was accepted and sooner after our ACK than a sender retries after a NAK (the busy timer, 10 s): line noise or a repeated ENQ, not a restart — the sender already has our ACK, and a second one would answer its first frame",
		EvOther:          "anything else (ignored in every state)",
	}
	var b strings.Builder
	for e := EvSend; e <= EvOther; e++ {
		fmt.Fprintf(&b, "- `%s`: %s\n", e, desc[e])
	}
	return b.String()
}
