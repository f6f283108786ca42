package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/openkms/kms/internal/store"
)

var _ store.Resealer = (*Store)(nil)

// Reseal re-seals every key material and access key secret in one
// transaction. Only the sealed columns change: ids, ciphertexts made with
// the materials and everything else stay as they are.
func (s *Store) Reseal(ctx context.Context, fn func(store.SealedValue) ([]byte, error)) (int, error) {
	n := 0
	err := InTx(ctx, s.w, func(tx *sql.Tx) error {
		var vals []store.SealedValue
		rows, err := tx.QueryContext(ctx, `SELECT key_id, id, sealed FROM materials`)
		if err != nil {
			return err
		}
		for rows.Next() {
			v := store.SealedValue{Kind: store.SealedMaterial}
			if err := rows.Scan(&v.KeyID, &v.ID, &v.Sealed); err != nil {
				rows.Close()
				return err
			}
			vals = append(vals, v)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		rows, err = tx.QueryContext(ctx, `SELECT id, sealed_secret FROM access_keys`)
		if err != nil {
			return err
		}
		for rows.Next() {
			v := store.SealedValue{Kind: store.SealedAccessKey}
			if err := rows.Scan(&v.ID, &v.Sealed); err != nil {
				rows.Close()
				return err
			}
			vals = append(vals, v)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		for _, v := range vals {
			sealed, err := fn(v)
			if err != nil {
				return fmt.Errorf("re-sealing %s %s: %w", v.Kind, v.ID, err)
			}
			var res sql.Result
			if v.Kind == store.SealedMaterial {
				res, err = tx.ExecContext(ctx, `UPDATE materials SET sealed = ? WHERE key_id = ? AND id = ?`, sealed, v.KeyID, v.ID)
			} else {
				res, err = tx.ExecContext(ctx, `UPDATE access_keys SET sealed_secret = ? WHERE id = ?`, sealed, v.ID)
			}
			if err != nil {
				return err
			}
			if c, err := res.RowsAffected(); err != nil || c != 1 {
				return fmt.Errorf("re-sealing %s %s: %d rows changed (%v)", v.Kind, v.ID, c, err)
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	return n, nil
}
