package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
)

// LoadSealState implements seal.StateStore: the cluster's seal state, or
// fs.ErrNotExist before the first node made it.
func (s *Store) LoadSealState(ctx context.Context) ([]byte, error) {
	var data []byte
	err := s.pool.QueryRow(ctx, `SELECT data FROM seal_state WHERE id = 1`).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: no seal state: %w", fs.ErrNotExist)
	}
	return data, wrap("load seal state", err)
}

// CreateSealState implements seal.StateStore: data becomes the seal state
// unless another node stored one first, which is returned instead.
func (s *Store) CreateSealState(ctx context.Context, data []byte) ([]byte, error) {
	var stored []byte
	err := s.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO seal_state (id, data) VALUES (1, $1) ON CONFLICT DO NOTHING`, data); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT data FROM seal_state WHERE id = 1`).Scan(&stored)
	})
	return stored, wrap("create seal state", err)
}

// ReadSealState reads the seal state of the database at dsn with one
// connection, changing nothing: for tools that only read, such as
// `kms audit verify --store`.
func ReadSealState(ctx context.Context, dsn string) ([]byte, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, wrap("read seal state", err)
	}
	defer conn.Close(context.Background())
	var data []byte
	err = conn.QueryRow(ctx, `SELECT data FROM seal_state WHERE id = 1`).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: no seal state: %w", fs.ErrNotExist)
	}
	return data, wrap("read seal state", err)
}
