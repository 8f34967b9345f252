package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/lab/order"
	"github.com/exhibit-forensics/exhibit/lab/receive"
	"github.com/exhibit-forensics/exhibit/lab/transport"
)

// labOrderCmd runs `exhibit lab order` and `exhibit lab orders`.
func labOrderCmd(e *env, args []string) int {
	if args[0] == "order" {
		return labOrder(e, args[1:])
	}
	return labOrders(e, args[1:])
}

const labOrderSynopsis = "lab order --data DIR --specimen ID --test CODE [--test CODE]... [--ref ALIQUOTREF] [--patient REF] [--priority R|S|A]"

// labOrder runs `exhibit lab order`: one specimen's tests placed in the
// data directory's order book (lab/order). It prints the order.
func labOrder(e *env, args []string) int {
	const name = "lab order"
	fs := newFlags(e, name, labOrderSynopsis)
	data := fs.String("data", "", "data directory")
	specimen := fs.String("specimen", "", "the specimen id: the barcode on the aliquot tube, as the analyser reads it")
	var tests listFlag
	fs.Var(&tests, "test", "an instrument test code to run (repeatable)")
	ref := fs.String("ref", "", "the aliquot's exhibit reference, which the results are for")
	patient := fs.String("patient", "", "patient / case reference sent with the order (ASTM P-4)")
	prio := fs.String("priority", order.Routine, "R (routine), S (stat) or A (as soon as possible)")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) > 0 || *data == "" || *specimen == "" || len(tests) == 0 {
		return e.usageErr(fs, "--data, --specimen and at least one --test are required")
	}
	if fi, err := os.Stat(*data); err != nil || !fi.IsDir() {
		return e.fail(name, fmt.Errorf("--data %s: not a data directory (see `exhibit init`)", *data))
	}
	b, err := order.Open(*data, nil)
	if err != nil {
		return e.fail(name, err)
	}
	o, err := b.Place(e.ctx, order.Order{Specimen: *specimen, Tests: tests, Ref: *ref, Patient: *patient, Priority: *prio})
	if errors.Is(err, order.ErrInvalid) {
		return e.usageErr(fs, "%v", err)
	}
	if err != nil {
		return e.fail(name, err)
	}
	fmt.Fprintf(e.stdout, "ordered %s %s priority=%s ref=%s\n", o.Specimen, strings.Join(o.Tests, ","), o.Priority, labOrDash(o.Ref))
	return exitOK
}

// labOrders runs `exhibit lab orders`: the book, after matching every
// result in the log to it (order.Reconcile), so that results stored by a
// receiver that stopped before recording them are matched too.
func labOrders(e *env, args []string) int {
	const name = "lab orders"
	fs := newFlags(e, name, "lab orders --data DIR [--json]")
	data := fs.String("data", "", "data directory")
	asJSON := fs.Bool("json", false, "print the book as JSON (the exhibit-orders v1 object) instead of a table")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) > 0 || *data == "" {
		return e.usageErr(fs, "--data is required, and nothing else")
	}
	l, code := openLedger(e, name, *data)
	if l == nil {
		return code
	}
	defer l.Close()
	b, err := order.Open(*data, nil)
	if err != nil {
		return e.fail(name, err)
	}
	caps, listErr := order.FromLog(e.ctx, l)
	if listErr != nil && !errors.Is(listErr, ledger.ErrOversized) {
		return e.fail(name, listErr)
	}
	if err := b.Reconcile(e.ctx, caps); err != nil {
		return e.fail(name, err)
	}
	s, err := b.List(e.ctx)
	if err != nil {
		return e.fail(name, err)
	}
	code = exitOK
	if listErr != nil {
		defer func() { e.fail(name, listErr) }()
		code = exitFail
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(s); err != nil {
			return e.fail(name, err)
		}
		return code
	}
	if len(s.Orders) == 0 {
		fmt.Fprintln(e.stdout, "no orders")
	} else {
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SPECIMEN\tTESTS\tPRIORITY\tREF\tORDERED\tSTATE\tRESULTS\tMISSING")
		for _, o := range s.Orders {
			var caps []string
			for _, m := range o.Results {
				caps = append(caps, m.Capture)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.Specimen, strings.Join(o.Tests, ","), o.Priority, labOrDash(o.Ref),
				o.Ordered.Format(time.RFC3339), o.State, labOrDash(strings.Join(caps, ",")), labOrDash(strings.Join(o.Missing(), ",")))
		}
		tw.Flush()
	}
	for _, u := range s.Unmatched {
		fmt.Fprintf(e.stdout, "unmatched: %s %s in %s (no order for this specimen)\n", u.Specimen, strings.Join(u.Codes, ","), u.Capture)
	}
	n := map[order.State]int{}
	for _, o := range s.Orders {
		n[o.State]++
	}
	fmt.Fprintf(e.stdout, "%d orders: %d pending, %d sent, %d queried, %d resulted; %d without all their results; %d unmatched results\n",
		len(s.Orders), n[order.Pending], n[order.Sent], n[order.Queried], n[order.Resulted], len(s.Orders)-n[order.Resulted], len(s.Unmatched))
	return code
}

// receiveOrders is the order book of `exhibit lab receive`: queries are
// answered from it, results matched to it, and with --download its orders
// are sent to the analyser.
type receiveOrders struct {
	download *bool
	every    *time.Duration
	connect  *string
	timeout  *time.Duration
}

func receiveOrderFlags(fs *flag.FlagSet) *receiveOrders {
	return &receiveOrders{
		download: fs.Bool("download", false, "send the order book's pending orders to the analyser (order download mode): astm while the line is idle; hl7 on the analyser's order port (--orders-connect). astm queries are answered from the book either way"),
		every:    fs.Duration("download-every", time.Second, "how often the order book is looked at for new orders to download"),
		connect:  fs.String("orders-connect", "", "hl7 with --download: the analyser's order port (host:port), which orders are sent to as OML^O33 (or ORM^O01) on a connection of their own"),
		timeout:  fs.Duration("orders-timeout", 30*time.Second, "hl7 with --download: how long to wait for the analyser's reply to an order message before connecting again"),
	}
}

// wire opens the book, matches what the log holds to it, and sets cfg to
// answer queries from it, record results in it and (with --download)
// download from it.
func (ro *receiveOrders) wire(e *env, data string, l *ledger.Ledger, log *slog.Logger, cfg *receive.Config) error {
	b, err := order.Open(data, nil)
	if err != nil {
		return err
	}
	caps, err := order.FromLog(e.ctx, l)
	if err != nil && !errors.Is(err, ledger.ErrOversized) {
		return err
	}
	if err := b.Reconcile(e.ctx, caps); err != nil {
		return err
	}
	if *ro.connect != "" && (cfg.Dialect.HL7 == nil || !*ro.download) {
		return errors.New("--orders-connect is for --protocol hl7 with --download")
	}
	if *ro.download {
		if cfg.Dialect.HL7 != nil {
			if *ro.connect == "" {
				return errors.New("--download with --protocol hl7 needs --orders-connect ADDR: the analyser's order port")
			}
			if *ro.timeout <= 0 {
				return fmt.Errorf("--orders-timeout %v: want a positive duration", *ro.timeout)
			}
			cfg.OrderLink, cfg.OrderTimeout = &transport.Client{Addr: *ro.connect, Logger: log}, *ro.timeout
		}
		cfg.Download, cfg.DownloadEvery = b, *ro.every
	}
	if cfg.Dialect.ASTM != nil {
		cfg.Orders = b
	}
	cfg.Observe = b.Observer(log, cfg.Observe)
	return nil
}
