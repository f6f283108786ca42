package server_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/openkms/kms/internal/pgtest"
	"github.com/openkms/kms/internal/server"
)

// The package's tests start one throwaway PostgreSQL, for TestOnPostgres.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// onPostgres makes startServer start a cluster node on a database of its
// own (cfg.Store) instead of the embedded store. Only TestOnPostgres sets
// it, around tests that run one after another.
var onPostgres bool

// TestOnPostgres runs the integration tests of keys, policies, grants,
// rotations, IAM and the audit trail again, each server a cluster node on
// PostgreSQL: the same behaviour, through the same API, on both stores.
func TestOnPostgres(t *testing.T) {
	onPostgres = true
	defer func() { onPostgres = false }()
	// The servers are cluster nodes indeed: no embedded store appears.
	dir := t.TempDir()
	startServer(t, server.Config{DataDir: dir}).stop()
	for _, f := range []string{"kms.db", "audit.db", "seal.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("a cluster node made %s in its data dir: %v", f, err)
		}
	}
	for _, tc := range []struct {
		name string
		test func(*testing.T)
	}{
		{"CreateAndDescribeKey", TestCreateAndDescribeKey},
		{"KeyStates", TestKeyStates},
		{"Aliases", TestAliases},
		{"Tags", TestTags},
		{"ListKeysPagination", TestListKeysPagination},
		{"Grants", TestGrants},
		{"GrantValidationAndDryRun", TestGrantValidationAndDryRun},
		{"ServiceGrantValidation", TestServiceGrantValidation},
		{"ServiceGrants", TestServiceGrants},
		{"ServiceGrantConditionKeys", TestServiceGrantConditionKeys},
		{"AWSManagedKey", TestAWSManagedKey},
		{"KMSAuthorizationWithIAM", TestKMSAuthorizationWithIAM},
		{"MultiTenantRole", TestMultiTenantRole},
		{"CrossAccountKeys", TestCrossAccountKeys},
		{"RotationKeepsOldCiphertexts", TestRotationKeepsOldCiphertexts},
		{"AutomaticRotation", TestAutomaticRotation},
		{"OnDemandRotationLimitAndPaging", TestOnDemandRotationLimitAndPaging},
		{"IAMUsers", TestIAMUsers},
		{"IAMAccessKeys", TestIAMAccessKeys},
		{"IAMPolicies", TestIAMPolicies},
		{"IAMRoles", TestIAMRoles},
		{"IAMAuthorization", TestIAMAuthorization},
		{"AssumeRole", TestAssumeRole},
		{"AssumeRoleCrossAccount", TestAssumeRoleCrossAccount},
		{"IAMManagedPolicies", TestIAMManagedPolicies},
		{"IAMManagedAttachments", TestIAMManagedAttachments},
		{"KMSThroughManagedPolicy", TestKMSThroughManagedPolicy},
		{"IAMTerraformReads", TestIAMTerraformReads},
		{"LookupEvents", TestLookupEvents},
		{"GetKeyLastUsage", TestGetKeyLastUsage},
		{"CrossAccountRecords", TestCrossAccountRecords},
		{"MultiRegionKeys", TestMultiRegionKeys},
		{"MultiRegionDeletion", TestMultiRegionDeletion},
		{"SeedExample", TestSeedExample},
		{"SeedSecondStartWritesNothing", TestSeedSecondStartWritesNothing},
		{"SeedLocalKMS", TestSeedLocalKMS},
		{"SeedConflicts", TestSeedConflicts},
		{"SeedCompletesInterruptedApply", TestSeedCompletesInterruptedApply},
	} {
		t.Run(tc.name, tc.test)
	}
}
