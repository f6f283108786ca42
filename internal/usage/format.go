package usage

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"text/tabwriter"
	"time"
)

// By chooses a report's rows.
type By string

const (
	// ByKey: one row per account and key, and a free-tier row per account.
	ByKey By = "key"
	// ByOperation: one row per account and line item (a price class of
	// requests, the free tier, key-hours, rotation-hours).
	ByOperation By = "operation"
)

// Money formats an amount of dollars to the micro-dollar, rounding halves
// away from zero; sums are exact before.
func Money(r *big.Rat) string { return r.FloatString(6) }

// FreeTierKey is the key_arn of the free tier's row in a by-key report.
const FreeTierKey = "(free tier)"

// KeyColumns are the columns of a by-key report, in order.
var KeyColumns = []string{
	"account", "key_arn", "key_spec", "key_manager",
	"requests", "symmetric", "rsa_2048", "asymmetric", "ecc_data_key_pair", "rsa_data_key_pair",
	"failed", "throttled", "key_hours", "rotations", "rotation_hours",
	"request_cost", "key_cost", "rotation_cost", "total_cost",
}

// OperationColumns are the columns of a by-operation report, in order.
var OperationColumns = []string{"account", "item", "quantity", "unit", "cost"}

// Rows renders the report as rows of strings under [KeyColumns] or
// [OperationColumns]; the last row is the total.
func (r *Report) Rows(by By) [][]string {
	n := strconv.FormatInt
	var rows [][]string
	switch by {
	case ByOperation:
		for _, a := range r.Accounts {
			for _, c := range Classes {
				if q := a.Requests[c]; q > 0 {
					rows = append(rows, []string{a.Account, "requests:" + string(c), n(q, 10), "requests", Money(requestCost(q, r.Prices.Per10k[c]))})
				}
			}
			if a.FreeRequests > 0 {
				rows = append(rows, []string{a.Account, "free-tier", n(a.FreeRequests, 10), "requests", Money(new(big.Rat).Neg(a.FreeTierCredit))})
			}
			if a.KeyHours > 0 {
				rows = append(rows, []string{a.Account, "keys", n(a.KeyHours, 10), "key-hours", Money(a.KeyCost)})
			}
			if a.RotationHours > 0 {
				rows = append(rows, []string{a.Account, "rotations", n(a.RotationHours, 10), "rotation-hours", Money(a.RotationCost)})
			}
		}
		rows = append(rows, []string{"total", "", "", "", Money(r.Total)})
	default:
		free := map[string]*AccountUsage{}
		for i := range r.Accounts {
			free[r.Accounts[i].Account] = &r.Accounts[i]
		}
		emitFree := func(account string) {
			a := free[account]
			if a == nil || a.FreeRequests == 0 {
				return
			}
			c := Money(new(big.Rat).Neg(a.FreeTierCredit))
			rows = append(rows, []string{account, FreeTierKey, "", "", "", "", "", "", "", "", "", "", "", "", "", c, Money(new(big.Rat)), Money(new(big.Rat)), c})
		}
		for i, k := range r.Keys {
			rows = append(rows, []string{
				k.Account, k.Key, k.Spec, k.Manager,
				n(k.RequestCount(), 10),
				n(k.Requests[ClassSymmetric], 10), n(k.Requests[ClassRSA2048], 10), n(k.Requests[ClassAsymmetric], 10),
				n(k.Requests[ClassECCDataKeyPair], 10), n(k.Requests[ClassRSADataKeyPair], 10),
				n(k.Failed, 10), n(k.Throttled, 10), n(k.KeyHours, 10), n(k.Rotations, 10), n(k.RotationHours, 10),
				Money(k.RequestCost), Money(k.KeyCost), Money(k.RotationCost), Money(k.Total()),
			})
			if i == len(r.Keys)-1 || r.Keys[i+1].Account != k.Account {
				emitFree(k.Account)
			}
		}
		total := make([]string, len(KeyColumns))
		total[0], total[len(total)-1] = "total", Money(r.Total)
		rows = append(rows, total)
	}
	return rows
}

// WriteCSV writes the report as CSV with a header row.
func (r *Report) WriteCSV(w io.Writer, by By) error {
	cw := csv.NewWriter(w)
	head := KeyColumns
	if by == ByOperation {
		head = OperationColumns
	}
	if err := cw.Write(head); err != nil {
		return err
	}
	if err := cw.WriteAll(r.Rows(by)); err != nil {
		return err
	}
	return cw.Error()
}

// WriteTable writes the report as an aligned table for people.
func (r *Report) WriteTable(w io.Writer, by By) error {
	fmt.Fprintf(w, "usage from %s to %s\n\n", r.Since.Format(time.RFC3339), r.Until.Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	cols := []int{0, 1, 3, 4, 12, 13, 18} // account, key, manager, requests, key_hours, rotations, total
	head := KeyColumns
	if by == ByOperation {
		cols = []int{0, 1, 2, 3, 4}
		head = OperationColumns
	}
	line := func(row []string) {
		for _, c := range cols {
			fmt.Fprintf(tw, "%s\t", row[c])
		}
		fmt.Fprintln(tw)
	}
	line(head)
	for _, row := range r.Rows(by) {
		line(row)
	}
	return tw.Flush()
}

// jsonReport is the JSON shape of a report; amounts are decimal strings.
type jsonReport struct {
	Since    string            `json:"since"`
	Until    string            `json:"until"`
	Prices   map[string]string `json:"prices"`
	Columns  []string          `json:"columns"`
	Rows     [][]string        `json:"rows"`
	Total    string            `json:"total"`
	Currency string            `json:"currency"`
}

// WriteJSON writes the report as one JSON object: the period, the prices
// applied, and the rows of the CSV (with its columns).
func (r *Report) WriteJSON(w io.Writer, by By) error {
	cols := KeyColumns
	if by == ByOperation {
		cols = OperationColumns
	}
	p := r.Prices
	prices := map[string]string{
		"key_month":         p.KeyMonth.FloatString(6),
		"rotation_month":    p.RotationMonth.FloatString(6),
		"charged_rotations": strconv.Itoa(p.ChargedRotations),
		"free_requests":     strconv.FormatInt(p.FreeRequests, 10),
		"hours_per_month":   strconv.FormatInt(p.HoursPerMonth, 10),
	}
	for _, c := range Classes {
		prices["requests_per_10000:"+string(c)] = p.Per10k[c].FloatString(6)
	}
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(jsonReport{
		Since: r.Since.Format(time.RFC3339), Until: r.Until.Format(time.RFC3339),
		Prices: prices, Columns: cols, Rows: r.Rows(by), Total: Money(r.Total), Currency: "USD",
	})
}
