package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"time"

	kmsusage "github.com/openkms/kms/internal/usage"
)

// priceFlag is a non-negative decimal amount of dollars, kept exact.
type priceFlag struct{ r *big.Rat }

func (p priceFlag) String() string {
	if p.r == nil {
		return ""
	}
	return p.r.FloatString(2)
}

func (p priceFlag) Set(s string) error {
	r, ok := new(big.Rat).SetString(s)
	if !ok || r.Sign() < 0 {
		return errors.New("want a non-negative decimal amount of dollars")
	}
	p.r.Set(r)
	return nil
}

// runUsage is `kms usage`: what the trail's workload would cost on AWS.
func runUsage(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kms usage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var af auditFlags
	var since, until, account, by, format string
	af.register(fs)
	fs.StringVar(&since, "since", "", "start of the period (required): RFC 3339 time, date (YYYY-MM-DD, UTC) or age (90m, 24h, 7d); truncated to the hour")
	fs.StringVar(&until, "until", "", "end of the period, excluded, as --since; default: the start of the current hour")
	fs.StringVar(&account, "account", "", "only this account's rows")
	fs.StringVar(&by, "by", "key", "rows: key (one per account and key) or operation (one per account and line item)")
	fs.StringVar(&format, "format", "table", "output format: table, csv or json")
	p := kmsusage.AWSPrices()
	price := func(name string, r *big.Rat, help string) {
		fs.Var(priceFlag{r}, name, help)
	}
	price("price-key-month", p.KeyMonth, "dollars a month for a customer managed key")
	price("price-rotation", p.RotationMonth, "dollars a month for each charged rotation of a key")
	fs.IntVar(&p.ChargedRotations, "charged-rotations", p.ChargedRotations, "how many rotations of a key are charged; later ones are free")
	price("price-requests", p.Per10k[kmsusage.ClassSymmetric], "dollars per 10,000 requests of the symmetric class")
	price("price-requests-rsa-2048", p.Per10k[kmsusage.ClassRSA2048], "dollars per 10,000 requests on RSA_2048 keys")
	price("price-requests-asymmetric", p.Per10k[kmsusage.ClassAsymmetric], "dollars per 10,000 requests on other asymmetric keys")
	price("price-requests-ecc-data-key-pair", p.Per10k[kmsusage.ClassECCDataKeyPair], "dollars per 10,000 GenerateDataKeyPair* requests for ECC pairs")
	price("price-requests-rsa-data-key-pair", p.Per10k[kmsusage.ClassRSADataKeyPair], "dollars per 10,000 GenerateDataKeyPair* requests for RSA pairs")
	fs.Int64Var(&p.FreeRequests, "free-requests", p.FreeRequests, "free symmetric-class requests per account and calendar month (0: no free tier)")
	fs.Int64Var(&p.HoursPerMonth, "hours-per-month", p.HoursPerMonth, "hours in a billed month")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: kms usage --since DATE [--until DATE] [--account ID] [--by key|operation] [--format table|csv|json] [flags]

Reads the audit trail (of a data dir, or of a cluster with --store) and
reports, for the period [--since, --until) in whole UTC hours, the requests
by account, key and price class, the key-hours and rotations, and what they
would cost on AWS KMS: by default at AWS's published prices, which the
--price flags change. The same trail and flags always give the same figures.
It may run while the server runs.

`)
		fs.PrintDefaults()
	}
	if !parseFlags(fs, args, stderr) {
		return 2
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "kms usage: "+format+"\n", a...)
		return 2
	}
	now := time.Now()
	if since == "" {
		return bad("--since is required")
	}
	s, err := parseSince(since, now)
	if err != nil {
		return bad("%v", err)
	}
	u := now.UTC().Truncate(time.Hour)
	if until != "" {
		if u, err = parseSince(until, now); err != nil {
			return bad("bad --until %q: want an RFC 3339 time, a date (YYYY-MM-DD) or an age (90m, 24h, 7d)", until)
		}
	}
	if by != string(kmsusage.ByKey) && by != string(kmsusage.ByOperation) {
		return bad("unsupported --by %q (key or operation)", by)
	}
	if format != "table" && format != "csv" && format != "json" {
		return bad("unsupported --format %q (table, csv or json)", format)
	}
	if p.ChargedRotations < 0 || p.FreeRequests < 0 || p.HoursPerMonth <= 0 {
		return bad("--charged-rotations and --free-requests must be 0 or more, --hours-per-month positive")
	}
	r, err := af.open()
	if err != nil {
		fmt.Fprintf(stderr, "kms usage: %v\n", err)
		return 1
	}
	defer r.Close()
	rep, err := kmsusage.Compute(context.Background(), r, kmsusage.Query{Since: s, Until: u, Account: account, Prices: p})
	if err != nil {
		fmt.Fprintf(stderr, "kms usage: %v\n", err)
		return 1
	}
	w := bufio.NewWriter(stdout)
	switch format {
	case "csv":
		err = rep.WriteCSV(w, kmsusage.By(by))
	case "json":
		err = rep.WriteJSON(w, kmsusage.By(by))
	default:
		err = rep.WriteTable(w, kmsusage.By(by))
	}
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		fmt.Fprintf(stderr, "kms usage: %v\n", err)
		return 1
	}
	return 0
}
