package service

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/store"
)

// AWS managed keys (spec §3.4): an account's key for an AWS service, made on
// first use of alias/aws/<service>. The map names the services and what
// their description says they protect.
var managedServices = map[string]string{
	"acm":               "ACM private keys",
	"backup":            "Backup vaults",
	"dynamodb":          "DynamoDB tables",
	"ebs":               "EBS volumes",
	"elasticfilesystem": "EFS file systems",
	"es":                "Elasticsearch domains",
	"glue":              "Glue data",
	"kinesis":           "Kinesis data",
	"lambda":            "Lambda functions",
	"logs":              "CloudWatch Logs",
	"rds":               "RDS databases",
	"redshift":          "Redshift clusters",
	"s3":                "S3 objects",
	"secretsmanager":    "Secrets Manager secrets",
	"sns":               "SNS topics",
	"sqs":               "SQS queues",
	"ssm":               "SSM Parameter Store parameters",
}

// managedKeyPolicy is the policy of an AWS managed key. AWS's lets every
// principal of the account use the key through the service (kms:ViaService);
// no AWS service calls this server, so use is delegated to the account's IAM
// policies instead, and the account may read the key's metadata. Nothing
// may change the key, its policy or its state.
func managedKeyPolicy(account, service string) string {
	root := "arn:aws:iam::" + account + ":root"
	return `{
  "Version" : "2012-10-17",
  "Id" : "auto-` + service + `-1",
  "Statement" : [ {
    "Sid" : "Allow access through ` + service + ` for all principals in the account that are authorized to use it",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "` + root + `"
    },
    "Action" : [ "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey" ],
    "Resource" : "*",
    "Condition" : {
      "StringEquals" : {
        "kms:CallerAccount" : "` + account + `"
      }
    }
  }, {
    "Sid" : "Allow direct access to key metadata to the account",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "` + root + `"
    },
    "Action" : [ "kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant" ],
    "Resource" : "*"
  } ]
}`
}

// managedKey returns the key behind alias/aws/<service> of an account,
// creating it on first use. ok is false for names that are not a managed
// key's.
func (s *Service) managedKey(ctx context.Context, account, region, name string) (e *keyEntry, ok bool, err error) {
	service, found := strings.CutPrefix(name, "alias/aws/")
	what, known := managedServices[service]
	if !found || !known {
		return nil, false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Another request may have made it meanwhile.
	if a, err := s.store.GetAlias(ctx, account, region, name); err == nil {
		e, err := s.acquire(ctx, a.TargetKeyID)
		return e, err == nil, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	k := kms.Key{
		ID:           kms.NewUUID(),
		Account:      account,
		Region:       region,
		Description:  "Default key that protects my " + what + " when no other key is defined",
		Spec:         kms.KeySpecSymmetricDefault,
		Usage:        kms.KeyUsageEncryptDecrypt,
		Origin:       kms.OriginAWSKMS,
		Manager:      kms.KeyManagerAWS,
		State:        kms.KeyStateEnabled,
		CreationDate: now,
		Policy:       managedKeyPolicy(account, service),
		// AWS managed keys rotate every year, always.
		RotationEnabled:    true,
		RotationPeriodDays: defaultRotationDays,
		NextRotationDate:   now.Add(defaultRotationDays * day),
	}
	release := s.sealer.Hold() // from sealing until stored
	m, err := s.newMaterial(k.ID, k.Spec)
	if err != nil {
		release()
		return nil, true, kms.Internal(err)
	}
	k.CurrentMaterialID = m.ID
	err = s.store.CreateKey(ctx, k, m)
	release()
	if err != nil {
		return nil, true, kms.Internal(err)
	}
	// A crash between the two writes leaves an unnamed managed key behind;
	// the next use makes another. Harmless, and rare.
	err = s.store.CreateAlias(ctx, kms.Alias{Name: name, Account: account, Region: region, TargetKeyID: k.ID, CreationDate: now, LastUpdatedDate: now})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return nil, true, kms.Internal(err)
	}
	s.aliasesChanged()
	s.log.Info("AWS managed key created", "key", k.ARN(), "alias", name)
	e, err = s.acquire(ctx, k.ID)
	return e, true, err
}
