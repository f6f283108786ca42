package console_test

// End-to-end tests of the console in a real headless Chromium against a
// real server: the browser signs with WebCrypto and the server verifies as
// it does any SDK's request. Chromium is required (scripts/test.sh
// installs it): a missing browser fails the test rather than skipping it,
// so the console cannot go untested unnoticed.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/openkms/kms/kmstest"
)

// chromium finds the browser: $KMS_CHROMIUM, else chromium on PATH.
func chromium(t *testing.T) string {
	if p := os.Getenv("KMS_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "/usr/bin/chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("Chromium is not installed (apt-get install chromium, or set KMS_CHROMIUM); scripts/test.sh installs it")
	return ""
}

// browser is one headless tab, with the page errors it saw: uncaught
// exceptions and CSP violations (the console must run under its own CSP).
type browser struct {
	t      *testing.T
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

func newBrowser(t *testing.T) *browser {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // the tests run as root
		chromedp.WindowSize(1280, 800),
	)
	actx, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
	t.Cleanup(cancel)
	return openTab(t, actx)
}

// newTab opens another tab of the same browser, with a sessionStorage of
// its own.
func (b *browser) newTab() *browser {
	return openTab(b.t, b.ctx)
}

func openTab(t *testing.T, parent context.Context) *browser {
	ctx, cancel := chromedp.NewContext(parent)
	t.Cleanup(cancel)
	b := &browser{t: t, ctx: ctx}
	err := chromedp.Listen(ctx, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg = (&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error()
		case *log.EventEntryAdded:
			// Network errors (the API's 4xx answers) are expected; a CSP
			// violation is logged with source "security".
			if ev.Entry.Source == log.EntrySourceSecurity || strings.Contains(ev.Entry.Text, "Content Security Policy") {
				msg = ev.Entry.Text
			}
		}
		if msg != "" {
			b.mu.Lock()
			b.errors = append(b.errors, msg)
			b.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, e := range b.errors {
			t.Errorf("page error: %s", e)
		}
	})
	return b
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatal(err)
	}
}

// eval runs a JavaScript expression (awaiting a promise) and decodes its
// value into T.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// waitFor waits until the expression is truthy.
func (b *browser) waitFor(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		b.t.Fatalf("waiting for %s: %v\npage text:\n%s", what, err, eval[string](b, `document.body.innerText`))
	}
}

// set gives a form control a value as typing or choosing would.
func (b *browser) set(sel, value string) {
	b.t.Helper()
	js, _ := json.Marshal([]string{sel, value})
	eval[chromedp.Void](b, fmt.Sprintf(`(([s, v]) => { const el = document.querySelector(s);
		el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true})); })(%s)`, js))
}

// screenshot writes the viewport to $KMS_CONSOLE_SCREENSHOTS/name.png when
// that is set (docs/console holds the README's).
func (b *browser) screenshot(name string) {
	dir := os.Getenv("KMS_CONSOLE_SCREENSHOTS")
	if dir == "" {
		return
	}
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// unlabelled lists the form controls with no label: every input, select
// and textarea must have a <label> or an aria-label.
const unlabelled = `[...document.querySelectorAll('input, select, textarea')]
	.filter(el => el.type !== 'hidden' && el.labels.length === 0 && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
	.map(el => el.outerHTML)`

// notKeyboard lists elements that act on clicks but are not natively
// focusable controls (the views use button, a, input and select only).
const notKeyboard = `[...document.querySelectorAll('[onclick], [role=button], [tabindex]')]
	.filter(el => !['BUTTON', 'A', 'INPUT', 'SELECT', 'TEXTAREA', 'SUMMARY'].includes(el.tagName))
	.map(el => el.outerHTML)`

// missingValue finds text nodes (outside a record's JSON and the policy
// editor, where null is data) that show a missing value.
const missingValue = `(() => {
	const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
	for (let n; (n = w.nextNode());) {
		if (n.parentElement.closest('pre, textarea')) continue;
		const m = n.data.match(/\b(null|undefined|NaN)\b|\[object Object\]/);
		if (m) return m[0];
	}
	return '';
})()`

// checkAccessible checks a view's controls, and that it renders no
// missing value.
func (b *browser) checkAccessible(view string) {
	b.t.Helper()
	if bad := eval[[]string](b, unlabelled); len(bad) > 0 {
		b.t.Errorf("%s: controls without a label: %v", view, bad)
	}
	if bad := eval[[]string](b, notKeyboard); len(bad) > 0 {
		b.t.Errorf("%s: clickable elements that are not controls: %v", view, bad)
	}
	// A missing field rendered as text is a bug of the view.
	if bad := eval[string](b, missingValue); bad != "" {
		b.t.Errorf("%s: the page shows %q", view, bad)
	}
}

// The browser's SigV4 must equal the SDK's for the same request.
func TestBrowserSigV4MatchesSDK(t *testing.T) {
	srv := kmstest.NewServer(t)
	b := newBrowser(t)
	b.do(chromedp.Navigate(srv.URL+"/console/"), chromedp.WaitVisible(`input[name=accessKeyId]`))
	host := strings.TrimPrefix(srv.URL, "http://")
	when := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	body := `{"KeyId":"alias/x"}`
	for _, token := range []string{"", "FwoGZXIvYXdzEXAMPLETOKEN"} {
		got := eval[map[string]string](b, fmt.Sprintf(`import('./sigv4.js').then(m => m.sign({host: %q,
			headers: {'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'TrentService.DescribeKey'},
			body: %q, region: 'eu-central-1', service: 'kms', now: new Date(%d),
			creds: {accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: %q}}))`,
			host, body, when.UnixMilli(), token))
		r, _ := http.NewRequest(http.MethodPost, srv.URL+"/", nil)
		r.Header.Set("Content-Type", "application/x-amz-json-1.1")
		r.Header.Set("X-Amz-Target", "TrentService.DescribeKey")
		creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", SessionToken: token}
		if err := v4.NewSigner().SignHTTP(t.Context(), creds, r, sha256Hex(body), "kms", "eu-central-1", when); err != nil {
			t.Fatal(err)
		}
		if want := r.Header.Get("Authorization"); got["authorization"] != want {
			t.Errorf("token %q:\nbrowser: %s\nSDK:     %s", token, got["authorization"], want)
		}
		if got["x-amz-date"] != r.Header.Get("X-Amz-Date") || got["x-amz-security-token"] != token || got["host"] != "" {
			t.Errorf("token %q: headers %v", token, got)
		}
	}
}

// The whole walk: sign-in (wrong then right secret), keys, creating a key
// and an alias, disabling it, the audit trail with another user's denied
// request, sign-out.
func TestBrowserConsole(t *testing.T) {
	srv := kmstest.NewServer(t)
	ctx := t.Context()
	client := srv.Client()

	// Keys made through the SDK, so the table has more than one state.
	seedKey := func(spec types.KeySpec, usage types.KeyUsageType, desc, alias string) string {
		out, err := client.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: spec, KeyUsage: usage, Description: aws.String(desc)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
			t.Fatal(err)
		}
		return *out.KeyMetadata.KeyId
	}
	seedKey(types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify, "Release signing", "alias/release-signing")
	seedKey(types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac, "Webhook MACs", "alias/webhooks")
	old := seedKey(types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt, "Retired backups", "alias/old-backups")
	del, err := client.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(old), PendingWindowInDays: aws.Int32(7)})
	if err != nil {
		t.Fatal(err)
	}
	deletionDay := del.DeletionDate.UTC().Format("2006-01-02")

	b := newBrowser(t)
	b.do(chromedp.Navigate(srv.URL + "/console/"))
	b.waitFor("the sign-in form", `document.querySelector('input[name=region]')?.value === 'us-east-1'`)
	b.checkAccessible("sign-in")
	if shown := eval[bool](b, `document.getElementById('signout').checkVisibility() || document.getElementById('nav').checkVisibility()`); shown {
		t.Error("signed out, the page shows the navigation or Sign out")
	}

	// A wrong secret: the server's SignatureDoesNotMatch, shown as is.
	b.do(chromedp.SendKeys(`input[name=accessKeyId]`, srv.AccessKeyID),
		chromedp.SendKeys(`input[name=secretAccessKey]`, "not-the-secret"),
		chromedp.Click(`form.signin button[type=submit]`))
	b.waitFor("the sign-in error", `!document.getElementById('signin-error').hidden`)
	msg := eval[string](b, `document.getElementById('signin-error').innerText`)
	if !strings.Contains(msg, "Sign-in failed: SignatureDoesNotMatch") || !strings.Contains(msg, "signature") {
		t.Errorf("wrong secret: %q", msg)
	}
	if n := eval[int](b, `sessionStorage.length`); n != 0 {
		t.Errorf("a failed sign-in stored %d items", n)
	}
	b.screenshot("signin")

	// The right one: the keys view, with the seeded keys.
	b.set(`input[name=secretAccessKey]`, srv.SecretAccessKey)
	b.do(chromedp.Click(`form.signin button[type=submit]`))
	b.waitFor("the keys table", `document.querySelectorAll('table.keys tbody tr').length === 3`)
	if who := eval[string](b, `document.getElementById('who').innerText`); !strings.Contains(who, "arn:aws:iam::"+srv.AccountID) {
		t.Errorf("signed in as %q", who)
	}
	if !eval[bool](b, `document.getElementById('signout').checkVisibility()`) {
		t.Error("signed in, the page shows no Sign out")
	}
	pending := eval[string](b, fmt.Sprintf(`document.querySelector('tr[data-key-id=%q] .badge').innerText`, old))
	if pending != "PendingDeletion ("+deletionDay+")" {
		t.Errorf("pending deletion badge %q, want the date %s", pending, deletionDay)
	}
	b.checkAccessible("keys")

	// Create a key with an alias.
	b.do(chromedp.Click(`#create-key`), chromedp.WaitVisible(`dialog select[name=KeySpec]`))
	b.checkAccessible("create key")
	// A policy the server refuses: its message in the dialog, no key made.
	b.set(`dialog textarea[name=Policy]`, `{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Principal":"*","Action":"kms:*","Resource":"*"}]}`)
	b.do(chromedp.Click(`#create-key-submit`))
	b.waitFor("the refused policy", `document.querySelector('dialog .error')?.innerText.startsWith('MalformedPolicyDocumentException: ')`)
	if keys, err := client.ListKeys(ctx, &awskms.ListKeysInput{}); err != nil {
		t.Fatal(err)
	} else if len(keys.Keys) != 3 {
		t.Fatalf("a refused CreateKey made a key: %d keys", len(keys.Keys))
	}
	b.set(`dialog textarea[name=Policy]`, "")
	b.set(`dialog input[name=Description]`, "Orders database")
	b.set(`dialog input[name=AliasName]`, "orders-db")
	b.set(`dialog textarea[name=Tags]`, "team=orders\ncost-center = 42")
	b.do(chromedp.Click(`#create-key-submit`))
	b.waitFor("the new key", `[...document.querySelectorAll('table.keys tbody tr')].some(tr => tr.innerText.includes('alias/orders-db'))`)
	keyID := eval[string](b, `[...document.querySelectorAll('table.keys tbody tr')].find(tr => tr.innerText.includes('alias/orders-db')).dataset.keyId`)
	md, err := client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/orders-db")})
	if err != nil || *md.KeyMetadata.KeyId != keyID || *md.KeyMetadata.Description != "Orders database" {
		t.Fatalf("the console's key: %v %+v", err, md)
	}

	// Filters.
	b.set(`select[name=usage]`, "SIGN_VERIFY")
	b.waitFor("the usage filter", `document.querySelectorAll('table.keys tbody tr').length === 1`)
	b.set(`select[name=usage]`, "")
	b.set(`input[name=text]`, "orders")
	b.waitFor("the text filter", `document.querySelectorAll('table.keys tbody tr').length === 1`)
	b.set(`input[name=text]`, "")
	b.set(`input[name=tag]`, "cost-center=42")
	b.waitFor("the tag filter", `document.querySelectorAll('table.keys tbody tr').length === 1`)
	if tags := eval[string](b, `document.querySelector('table.keys tbody tr td:last-child').innerText`); tags != "team=orders, cost-center=42" && tags != "cost-center=42, team=orders" {
		t.Errorf("tags in the table: %q", tags)
	}
	b.set(`input[name=tag]`, "team=other")
	b.waitFor("the tag filter", `document.querySelectorAll('table.keys tbody tr').length === 0`)
	b.set(`input[name=tag]`, "")
	b.waitFor("no filter", `document.querySelectorAll('table.keys tbody tr').length === 4`)
	b.screenshot("keys")

	// The key's page; disable it, confirming what stops working.
	b.do(chromedp.Click(fmt.Sprintf(`tr[data-key-id=%q] a`, keyID)))
	b.waitFor("the key page", `document.getElementById('disable-key')`)
	if meta := eval[string](b, `document.querySelector('dl.meta').innerText`); !strings.Contains(meta, *md.KeyMetadata.Arn) {
		t.Errorf("key page: %s", meta)
	}
	if aliases := eval[string](b, `document.getElementById('key-aliases').innerText`); !strings.Contains(aliases, "alias/orders-db") {
		t.Errorf("key page aliases: %q", aliases)
	}
	// A second alias, added then deleted (confirmed).
	b.set(`#alias-form input[name=NewAlias]`, "orders-db-old")
	b.do(chromedp.Click(`#alias-form button[type=submit]`))
	b.waitFor("the second alias", `document.querySelector('#key-aliases li[data-alias="alias/orders-db-old"]')`)
	b.do(chromedp.Click(`#key-aliases li[data-alias="alias/orders-db-old"] button`))
	b.waitFor("the alias deletion confirmation", `document.querySelector('dialog.confirm')?.open`)
	if confirm := eval[string](b, `document.querySelector('dialog.confirm').innerText`); !strings.Contains(confirm, "alias/orders-db-old fail with NotFoundException") {
		t.Errorf("the alias deletion confirmation: %q", confirm)
	}
	b.do(chromedp.Click(`#confirm-ok`))
	b.waitFor("the alias deleted", `document.getElementById('alias-form') && !document.querySelector('#key-aliases li[data-alias="alias/orders-db-old"]')`)
	if _, err := client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/orders-db-old")}); err == nil {
		t.Error("the deleted alias still names the key")
	}
	b.checkAccessible("key page")
	b.screenshot("key")
	b.do(chromedp.Click(`#disable-key`))
	b.waitFor("the confirmation", `document.querySelector('dialog.confirm')?.open`)
	b.screenshot("confirm-disable")
	confirm := eval[string](b, `document.querySelector('dialog.confirm').innerText`)
	for _, want := range []string{"Decrypt", "GenerateDataKey", "alias/orders-db", "DisabledException"} {
		if !strings.Contains(confirm, want) {
			t.Errorf("the confirmation does not name %s: %q", want, confirm)
		}
	}
	b.do(chromedp.Click(`#confirm-ok`))
	b.waitFor("the Disabled badge", `document.querySelector('.titlebar .badge.state-Disabled') && document.getElementById('enable-key')`)
	if md, err := client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(keyID)}); err != nil || md.KeyMetadata.KeyState != types.KeyStateDisabled {
		t.Fatalf("after disabling: %v %v", err, md)
	}

	// The same page by its alias, as a link would open it.
	eval[chromedp.Void](b, `location.hash = '#/keys/alias%2Forders-db'`)
	b.waitFor("the key page by alias", fmt.Sprintf(`document.querySelector('dl.meta')?.innerText.includes(%q) && document.getElementById('key-aliases').innerText.includes('alias/orders-db') && document.getElementById('enable-key')`, keyID))

	// Schedule its deletion (the confirmation names the consequence), then
	// cancel it: the key is Disabled again.
	b.do(chromedp.Click(`#schedule-deletion`))
	b.waitFor("the deletion confirmation", `document.querySelector('dialog.confirm')?.open`)
	if confirm := eval[string](b, `document.querySelector('dialog.confirm').innerText`); !strings.Contains(confirm, "never be decrypted") {
		t.Errorf("the deletion confirmation: %q", confirm)
	}
	b.checkAccessible("schedule deletion")
	b.set(`dialog.confirm input[name=PendingWindowInDays]`, "7")
	b.do(chromedp.Click(`#confirm-ok`))
	b.waitFor("the PendingDeletion badge", `document.querySelector('.titlebar .badge.state-PendingDeletion') && document.getElementById('cancel-deletion')`)
	md2, err := client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(keyID)})
	if err != nil || md2.KeyMetadata.DeletionDate == nil {
		t.Fatalf("after scheduling deletion: %v %+v", err, md2)
	}
	if badge := eval[string](b, `document.querySelector('.titlebar .badge').innerText`); badge != "PendingDeletion ("+md2.KeyMetadata.DeletionDate.UTC().Format("2006-01-02")+")" {
		t.Errorf("badge %q, deletion date %v", badge, md2.KeyMetadata.DeletionDate)
	}
	b.do(chromedp.Click(`#cancel-deletion`))
	b.waitFor("the cancel confirmation", `document.querySelector('dialog.confirm')?.open`)
	b.do(chromedp.Click(`#confirm-ok`))
	b.waitFor("the Disabled badge again", `document.querySelector('.titlebar .badge.state-Disabled') && document.getElementById('enable-key')`)

	// The key's own audit events.
	b.do(chromedp.Click(`#key-audit`))
	b.waitFor("the key's events", `document.querySelector('li.event[data-event-name=CancelKeyDeletion]')`)
	if n := eval[int](b, fmt.Sprintf(`[...document.querySelectorAll('li.event')].filter(li => !li.innerText.includes(%q)).length`, keyID)); n != 0 {
		t.Errorf("the key's audit view shows %d events of other resources", n)
	}

	// Another IAM user, with no permission, is denied DescribeKey.
	iamc := iam.NewFromConfig(srv.Config)
	if _, err := iamc.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("mallory")}); err != nil {
		t.Fatal(err)
	}
	ak, err := iamc.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("mallory")})
	if err != nil {
		t.Fatal(err)
	}
	cfg := srv.Config.Copy()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(*ak.AccessKey.AccessKeyId, *ak.AccessKey.SecretAccessKey, "")
	_, err = awskms.NewFromConfig(cfg).DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(keyID)})
	if ae := smithy.APIError(nil); !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("mallory's DescribeKey: %v, want AccessDeniedException", err)
	}

	// The audit view: the DisableKey event, and mallory's denial highlighted.
	b.do(chromedp.Click(`#nav a[href="#/audit"]`))
	b.waitFor("the audit events", `document.querySelector('li.event.denied')`)
	denied := eval[[]string](b, `[...document.querySelectorAll('li.event.denied')].map(li => li.innerText)`)
	if len(denied) != 1 || !strings.Contains(denied[0], "DescribeKey") || !strings.Contains(denied[0], "mallory") || !strings.Contains(denied[0], "AccessDenied") {
		t.Errorf("denied events: %q", denied)
	}
	if n := eval[int](b, `document.querySelectorAll('li.event:not(.denied) .badge.denied').length`); n != 0 {
		t.Errorf("%d events badged denied but not highlighted", n)
	}
	b.screenshot("audit")
	// A record's JSON opens in place.
	b.do(chromedp.Click(`li.event.denied summary`))
	if rec := eval[string](b, `document.querySelector('li.event.denied pre').innerText`); !strings.Contains(rec, `"eventName": "DescribeKey"`) ||
		!strings.Contains(rec, `"errorCode": "AccessDeniedException"`) || !strings.Contains(rec, keyID) {
		t.Errorf("the denied record: %s", rec)
	}
	b.checkAccessible("audit")

	// More than a page: "Load more" continues the same search, even after
	// the form was edited.
	if n := eval[int](b, `document.querySelectorAll('li.event').length`); n != 50 {
		t.Errorf("the first page has %d events, want 50", n)
	}
	b.set(`input[name=event]`, "Encrypt")
	b.do(chromedp.Click(`#audit-more`))
	b.waitFor("the second page", `document.querySelectorAll('li.event').length > 50 && !document.querySelector('[role=status]').innerText.startsWith('Searching') || document.querySelector('[role=status] .error')`)
	if errText := eval[string](b, `document.querySelector('[role=status] .error')?.innerText || ''`); errText != "" {
		t.Errorf("Load more: %s", errText)
	}
	b.set(`input[name=event]`, "")

	// Filters: by user (the lookup attribute) and by key and event name.
	b.set(`input[name=user]`, "mallory")
	b.do(chromedp.Click(`form.filters button[type=submit]`))
	b.waitFor("mallory's events", `(() => { const l = [...document.querySelectorAll('li.event')]; return l.length === 1 && l[0].classList.contains('denied'); })()`)
	b.set(`input[name=user]`, "")
	b.set(`input[name=resource]`, keyID)
	b.set(`input[name=event]`, "DisableKey")
	b.do(chromedp.Click(`form.filters button[type=submit]`))
	b.waitFor("the key's DisableKey events", `(() => { const l = [...document.querySelectorAll('li.event')]; return l.length === 1 && l[0].dataset.eventName === 'DisableKey'; })()`)
	b.do(chromedp.Click(`li.event[data-event-name=DisableKey] summary`))
	if rec := eval[string](b, `document.querySelector('li.event[data-event-name=DisableKey] pre').innerText`); !strings.Contains(rec, `"eventName": "DisableKey"`) || !strings.Contains(rec, keyID) {
		t.Errorf("DisableKey record: %s", rec)
	}

	// Writes only: no read-only event is left.
	b.set(`input[name=resource]`, "")
	b.set(`input[name=event]`, "")
	b.set(`select[name=readonly]`, "false")
	b.do(chromedp.Click(`form.filters button[type=submit]`))
	b.waitFor("the writes", `document.querySelector('li.event[data-event-name=CreateKey]') && !document.querySelector('li.event[data-read-only=true]')`)

	// Sign-out forgets the credentials.
	b.do(chromedp.Click(`#signout`))
	b.waitFor("the sign-in form", `document.querySelector('form.signin')`)
	if n := eval[int](b, `sessionStorage.length`); n != 0 {
		t.Errorf("sign-out left %d items in sessionStorage", n)
	}

	// mallory may sign in (GetCallerIdentity needs no permission) but sees
	// AWS's AccessDenied message instead of the keys: the console has no
	// power of its own.
	b.signIn(*ak.AccessKey.AccessKeyId, *ak.AccessKey.SecretAccessKey, "")
	b.waitFor("mallory's denial", `document.querySelector('#view .error:not(#signin-error)')`)
	if msg := eval[string](b, `document.querySelector('#view .error:not(#signin-error)').innerText`); !strings.Contains(msg, "AccessDeniedException") || !strings.Contains(msg, "user/mallory is not authorized to perform: kms:List") { // ListKeys or ListAliases, whichever answers first
		t.Errorf("mallory's keys view: %q", msg)
	}

	// Once mallory's access key is deleted, the next call ends the session.
	if _, err := iamc.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("mallory"), AccessKeyId: ak.AccessKey.AccessKeyId}); err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.Click(`#nav a[href="#/audit"]`))
	b.waitFor("the end of mallory's session", `document.querySelector('form.signin') && !document.getElementById('signin-error').hidden`)
	if msg := eval[string](b, `document.getElementById('signin-error').innerText`); !strings.Contains(msg, "Signed out: the server no longer accepts these credentials (UnrecognizedClientException: ") {
		t.Errorf("after the key's deletion: %q", msg)
	}
	if n := eval[int](b, `sessionStorage.length`); n != 0 {
		t.Errorf("the ended session left %d items in sessionStorage", n)
	}

	// Temporary credentials from AssumeRole, with their session token.
	trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"sts:AssumeRole"}]}`, srv.AccountID)
	if _, err := iamc.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("auditor"), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	perms := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:List*","kms:Describe*","cloudtrail:LookupEvents"],"Resource":"*"}]}`
	if _, err := iamc.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("auditor"), PolicyName: aws.String("read"), PolicyDocument: aws.String(perms)}); err != nil {
		t.Fatal(err)
	}
	// Root may not assume roles (as on AWS): a user allowed to does.
	if _, err := iamc.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("ops")}); err != nil {
		t.Fatal(err)
	}
	assume := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}`
	if _, err := iamc.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("ops"), PolicyName: aws.String("assume"), PolicyDocument: aws.String(assume)}); err != nil {
		t.Fatal(err)
	}
	opsKey, err := iamc.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("ops")})
	if err != nil {
		t.Fatal(err)
	}
	opsCfg := srv.Config.Copy()
	opsCfg.Credentials = credentials.NewStaticCredentialsProvider(*opsKey.AccessKey.AccessKeyId, *opsKey.AccessKey.SecretAccessKey, "")
	role, err := sts.NewFromConfig(opsCfg).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::" + srv.AccountID + ":role/auditor"), RoleSessionName: aws.String("console")})
	if err != nil {
		t.Fatal(err)
	}
	c := role.Credentials
	b.signIn(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken)
	b.waitFor("the auditor's keys", `document.querySelectorAll('table.keys tbody tr').length === 4`)
	if who := eval[string](b, `document.getElementById('who').innerText`); !strings.Contains(who, "assumed-role/auditor/console") {
		t.Errorf("signed in as %q", who)
	}
	b.do(chromedp.Click(`#nav a[href="#/audit"]`))
	b.waitFor("the auditor's audit view", `document.querySelector('li.event.denied')`)
}

// signIn fills the sign-in form and submits it.
func (b *browser) signIn(akid, secret, token string) {
	b.t.Helper()
	b.set(`input[name=accessKeyId]`, akid)
	b.set(`input[name=secretAccessKey]`, secret)
	b.set(`input[name=sessionToken]`, token)
	b.do(chromedp.Click(`form.signin button[type=submit]`))
}

// The key page: tags, last use, rotation, grants, and the policy editor
// (the server's MalformedPolicyDocumentException in place, a diff before
// saving, the saved policy seen from a second tab).
func TestBrowserKeyPage(t *testing.T) {
	srv := kmstest.NewServer(t)
	ctx := t.Context()
	client := srv.Client()
	out, err := client.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String("Payments"),
		Tags: []types.Tag{{TagKey: aws.String("team"), TagValue: aws.String("payments")}}})
	if err != nil {
		t.Fatal(err)
	}
	keyID := *out.KeyMetadata.KeyId
	if _, err := client.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: aws.String(keyID), RotationPeriodInDays: aws.Int32(90)}); err != nil {
		t.Fatal(err)
	}

	if _, err := client.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"sts:AssumeRole"}]}`, srv.AccountID)
	app, err := iam.NewFromConfig(srv.Config).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"), AssumeRolePolicyDocument: aws.String(trust)})
	if err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t)
	b.do(chromedp.Navigate(srv.URL + "/console/#/keys/" + keyID))
	b.waitFor("the sign-in form", `document.querySelector('form.signin')`)
	b.signIn(srv.AccessKeyID, srv.SecretAccessKey, "")
	b.waitFor("the key page", `document.getElementById('policy-text')`)
	tagText := `[...document.querySelectorAll('#key-tags .badge')].map(b => b.innerText).join(', ')`
	if tags := eval[string](b, tagText); tags != "team = payments" {
		t.Errorf("tags: %q", tags)
	}
	// Tags: add one, remove the other (confirmed).
	b.set(`#tag-form input[name=TagKey]`, "env")
	b.set(`#tag-form input[name=TagValue]`, "prod")
	b.do(chromedp.Click(`#tag-form button[type=submit]`))
	b.waitFor("the new tag", `document.querySelector('#key-tags li[data-tag-key=env]')`)
	b.do(chromedp.Click(`#key-tags li[data-tag-key=team] button`))
	b.waitFor("the untag confirmation", `document.querySelector('dialog.confirm')?.open`)
	if confirm := eval[string](b, `document.querySelector('dialog.confirm').innerText`); !strings.Contains(confirm, "aws:ResourceTag/team") {
		t.Errorf("the untag confirmation: %q", confirm)
	}
	b.do(chromedp.Click(`#confirm-ok`))
	b.waitFor("the tags after removal", `document.getElementById('tag-form') && !document.querySelector('#key-tags li[data-tag-key=team]')`)
	if tags := eval[string](b, tagText); tags != "env = prod" {
		t.Errorf("tags after the changes: %q", tags)
	}
	if out, err := client.ListResourceTags(ctx, &awskms.ListResourceTagsInput{KeyId: aws.String(keyID)}); err != nil || len(out.Tags) != 1 || *out.Tags[0].TagKey != "env" {
		t.Fatalf("stored tags: %v %+v", err, out)
	}
	if last := eval[string](b, `document.getElementById('key-last-use').innerText`); !strings.HasPrefix(last, "Encrypt on ") {
		t.Errorf("last use: %q", last)
	}
	if rot := eval[string](b, `document.getElementById('rotation-status').innerText`); !strings.HasPrefix(rot, "Automatic rotation every 90 days, next on ") {
		t.Errorf("rotation: %q", rot)
	}
	today := time.Now().UTC().Format("2006-01-02")
	if n := eval[string](b, `(() => { const t = document.getElementById('usage-table');
		const col = [...t.tHead.rows[0].cells].findIndex(c => c.textContent === '`+today+`');
		return t.querySelector('tr[data-op=Encrypt]').cells[col].textContent; })()`); n != "1" {
		t.Errorf("today's Encrypt count in the usage chart: %q, want 1", n)
	}
	if n := eval[int](b, `document.querySelectorAll('svg.usage-chart rect').length`); n == 0 {
		t.Error("the usage chart has no bars")
	}
	eval[chromedp.Void](b, `document.getElementById('details-title').scrollIntoView({block: 'start'})`)
	b.screenshot("usage")
	b.do(chromedp.Click(`details:has(#grant-form) > summary`))
	b.checkAccessible("key page")

	// Rotation: a new period, then a rotation now.
	b.set(`input[name=RotationPeriodInDays]`, "180")
	b.do(chromedp.Click(`#rotation-save`))
	b.waitFor("the new period", `document.getElementById('rotation-status')?.innerText.includes('every 180 days')`)
	if st, err := client.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: aws.String(keyID)}); err != nil || *st.RotationPeriodInDays != 180 {
		t.Fatalf("rotation after the console's change: %v %+v", err, st)
	}
	b.do(chromedp.Click(`#rotate-now`))
	b.waitFor("the rotation confirmation", `document.querySelector('dialog.confirm')?.open`)
	b.do(chromedp.Click(`#confirm-ok`))
	b.waitFor("the rotation history", `document.querySelector('table#rotation-history')?.innerText.includes('ON_DEMAND')`)

	// Grants: create one for the role app, then revoke it.
	b.do(chromedp.Click(`details:has(#grant-form) > summary`))
	b.set(`#grant-form input[name=GranteePrincipal]`, *app.Role.Arn)
	b.set(`#grant-form input[name=Name]`, "app-data")
	b.do(chromedp.Click(`#grant-create`))
	b.waitFor("the grant", `document.querySelector('#grants-list tr[data-grant-id]')`)
	grants, err := client.ListGrants(ctx, &awskms.ListGrantsInput{KeyId: aws.String(keyID)})
	if err != nil || len(grants.Grants) != 1 || *grants.Grants[0].GranteePrincipal != *app.Role.Arn ||
		fmt.Sprint(grants.Grants[0].Operations) != "[Encrypt Decrypt]" || *grants.Grants[0].Name != "app-data" {
		t.Fatalf("the console's grant: %v %+v", err, grants)
	}
	b.waitFor("the grant in plain words", `document.getElementById('who-may').innerText.includes('Role app may Encrypt and Decrypt (grant app-data).')`)
	if who := eval[string](b, `document.getElementById('who-may').innerText`); !strings.Contains(who, "This account (the users and roles its IAM policies allow) may do anything with the key.") {
		t.Errorf("who may use it: %q", who)
	}
	b.screenshot("grants")
	b.do(chromedp.Click(`#grants-list tr[data-grant-id] button`))
	b.waitFor("the revoke confirmation", `document.querySelector('dialog.confirm')?.open`)
	if confirm := eval[string](b, `document.querySelector('dialog.confirm').innerText`); !strings.Contains(confirm, *app.Role.Arn+" loses Encrypt, Decrypt") {
		t.Errorf("the revoke confirmation: %q", confirm)
	}
	b.do(chromedp.Click(`#confirm-ok`))
	b.waitFor("no grant", `document.getElementById('grants-list').innerText === 'No grants.'`)

	// Not JSON: refused in the browser.
	b.set(`#policy-text`, `{"Version": `)
	b.do(chromedp.Click(`#policy-review`))
	b.waitFor("the JSON error", `document.getElementById('policy-message').innerText.includes('Not valid JSON')`)

	// JSON the server refuses: its message, in place.
	policy := func(effect, sid string) string {
		return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":%q,"Effect":%q,"Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"kms:*","Resource":"*"}]}`,
			sid, effect, srv.AccountID)
	}
	b.set(`#policy-text`, policy("Maybe", "Root"))
	b.do(chromedp.Click(`#policy-review`))
	b.waitFor("the diff", `!document.getElementById('policy-diff').hidden && !document.getElementById('policy-save').disabled`)
	diff := eval[string](b, `document.getElementById('policy-diff').innerText`)
	if !strings.Contains(diff, `+       "Effect": "Maybe",`) || !strings.Contains(diff, `-       "Effect": "Allow",`) {
		t.Errorf("diff:\n%s", diff)
	}
	b.do(chromedp.Click(`#policy-save`))
	b.waitFor("the server's refusal", `document.querySelector('#policy-message .error')`)
	if msg := eval[string](b, `document.getElementById('policy-message').innerText`); !strings.HasPrefix(msg, "MalformedPolicyDocumentException: ") {
		t.Errorf("invalid policy: %q", msg)
	}

	// A valid one saves.
	withApp := strings.TrimSuffix(policy("Allow", "ConsoleEdited"), "]}") + fmt.Sprintf(`,{"Sid":"App","Effect":"Allow","Principal":{"AWS":%q},`+
		`"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:customer":"acme"}}},`+
		`{"Sid":"NoDelete","Effect":"Deny","Principal":"*","Action":"kms:ScheduleKeyDeletion","Resource":"*"}]}`, *app.Role.Arn)
	b.set(`#policy-text`, withApp)
	b.do(chromedp.Click(`#policy-review`))
	b.waitFor("the second diff", `!document.getElementById('policy-diff').hidden && document.getElementById('policy-diff').innerText.includes('ConsoleEdited')`)
	eval[chromedp.Void](b, `document.getElementById('policy-review').scrollIntoView({block: 'start'})`)
	b.screenshot("policy")
	b.do(chromedp.Click(`#policy-save`))
	b.waitFor("the saved policy", `document.getElementById('policy-message').innerText === 'Policy saved.'`)
	b.waitFor("the new policy in plain words", `document.getElementById('who-may').innerText.includes('Role app may Encrypt and Decrypt when the encryption context has customer = acme.')`)
	if who := eval[string](b, `document.getElementById('who-may').innerText`); !strings.Contains(who, "Anyone may not ScheduleKeyDeletion.") {
		t.Errorf("who may use it: %q", who)
	}
	got, err := client.GetKeyPolicy(ctx, &awskms.GetKeyPolicyInput{KeyId: aws.String(keyID)})
	if err != nil || !strings.Contains(*got.Policy, "ConsoleEdited") {
		t.Fatalf("the stored policy: %v %v", err, got)
	}

	// A second tab signs in on its own and shows the new policy.
	tab := b.newTab()
	tab.do(chromedp.Navigate(srv.URL + "/console/"))
	tab.waitFor("the second tab's sign-in form", `document.querySelector('form.signin')`)
	tab.signIn(srv.AccessKeyID, srv.SecretAccessKey, "")
	tab.waitFor("the keys table", `document.querySelector('table.keys tbody tr')`)
	tab.do(chromedp.Click(fmt.Sprintf(`tr[data-key-id=%q] a`, keyID)))
	tab.waitFor("the policy in the second tab", `document.getElementById('policy-text')?.value.includes('"Sid": "ConsoleEdited"')`)
}

// The pure functions of the front end, run in the browser: the policy
// diff and the plain-words reading of policies and grants.
func TestBrowserFunctions(t *testing.T) {
	srv := kmstest.NewServer(t)
	b := newBrowser(t)
	b.do(chromedp.Navigate(srv.URL+"/console/"), chromedp.WaitVisible(`input[name=accessKeyId]`))

	diff := eval[[][]string](b, `import('./policy.js').then(m => m.lineDiff('a\nb\nc\nd', 'a\nc\nx\nd'))`)
	if got := fmt.Sprint(diff); got != "[[  a] [- b] [  c] [+ x] [  d]]" {
		t.Errorf("lineDiff: %s", got)
	}
	if got := fmt.Sprint(eval[[][]string](b, `import('./policy.js').then(m => m.lineDiff('same', 'same'))`)); got != "[[  same]]" {
		t.Errorf("lineDiff of equal texts: %s", got)
	}

	policy := `{"Statement": [
		{"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:user/ops/alice", "444455556666"]}, "Action": "kms:Decrypt",
		 "Condition": {"StringEquals": {"kms:ViaService": ["s3.us-east-1.amazonaws.com", "sqs.us-east-1.amazonaws.com"]}}},
		{"Effect": "Allow", "Principal": {"Service": "logs.amazonaws.com"}, "Action": ["kms:Encrypt*", "kms:GenerateDataKey*"],
		 "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:*"}, "Bool": {"kms:GrantIsForAWSResource": "true"}}},
		{"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:role/admin"}, "NotAction": ["kms:Describe*", "kms:List*"],
		 "Condition": {"ForAnyValue:StringLike": {"kms:EncryptionContextKeys": "tenant*"}, "IpAddressIfExists": {"aws:SourceIp": "10.0.0.0/8"}}},
		{"Effect": "Allow", "Principal": {"AWS": "arn:aws:sts::111122223333:assumed-role/app/worker-1"}, "Action": "*", "Resource": "*"}]}`
	grants := `[{"GrantId": "0123456789abcdef0123", "GranteePrincipal": "arn:aws:iam::111122223333:role/app", "Operations": ["Decrypt"],
		"Constraints": {"EncryptionContextEquals": {"customer": "acme", "env": "prod"}}}]`
	got := eval[[][]string](b, fmt.Sprintf(`import('./who.js').then(m => m.sentences(%s, %s, '111122223333'))`, policy, grants))
	want := [][]string{
		{"allow", "user alice and account 444455556666 (as its IAM policies allow) may Decrypt when the call comes through one of s3.us-east-1.amazonaws.com, sqs.us-east-1.amazonaws.com."},
		{"allow", "service logs.amazonaws.com may Encrypt* and GenerateDataKey* when the encryption context's aws:logs:arn matches arn:aws:logs:* and the grant is for an AWS resource."},
		{"deny", "anyone but role admin may not do anything but Describe* and List* when the encryption context's keys include tenant* and aws:SourceIp is in 10.0.0.0/8."},
		{"allow", "session worker-1 of role app may do anything with the key."},
		{"grant", "role app may Decrypt (grant 0123456789ab) when the encryption context is exactly customer = acme and env = prod."},
	}
	if len(got) != len(want) {
		t.Fatalf("sentences: %q", got)
	}
	for i := range want {
		if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
			t.Errorf("sentence %d:\ngot  %q\nwant %q", i, got[i], want[i])
		}
	}
}

// tabTo presses Tab until the focused element matches sel, and fails if
// max presses do not get there: the control is reachable by keyboard.
func (b *browser) tabTo(sel string, max int) {
	b.t.Helper()
	for range max {
		if eval[bool](b, fmt.Sprintf(`!!document.activeElement?.matches(%q)`, sel)) {
			return
		}
		b.do(chromedp.KeyEvent(kb.Tab))
	}
	b.t.Fatalf("%s is not reached by %d presses of Tab; focus is on %s", sel, max, eval[string](b, `document.activeElement?.outerHTML || ''`))
}

// The console by keyboard alone: sign in, open and close the create
// dialog, open a key's page and its disable confirmation.
func TestBrowserKeyboard(t *testing.T) {
	srv := kmstest.NewServer(t)
	out, err := srv.Client().CreateKey(t.Context(), &awskms.CreateKeyInput{Description: aws.String("by keyboard")})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	b.do(chromedp.Navigate(srv.URL + "/console/"))
	b.waitFor("the sign-in form", `document.activeElement?.name === 'accessKeyId'`)
	b.do(chromedp.KeyEvent(srv.AccessKeyID))
	b.tabTo(`input[name=secretAccessKey]`, 3)
	b.do(chromedp.KeyEvent(srv.SecretAccessKey + kb.Enter))
	b.waitFor("the keys table", `document.querySelector('table.keys tbody tr')`)

	b.tabTo(`#create-key`, 10)
	b.do(chromedp.KeyEvent(kb.Enter))
	b.waitFor("the create dialog", `document.querySelector('dialog[open] select[name=KeySpec]')`)
	b.do(chromedp.KeyEvent(kb.Escape))
	b.waitFor("the dialog closed", `!document.querySelector('dialog')`)

	b.tabTo(fmt.Sprintf(`tr[data-key-id=%q] a`, *out.KeyMetadata.KeyId), 20)
	b.do(chromedp.KeyEvent(kb.Enter))
	b.waitFor("the key page", `document.getElementById('disable-key')`)
	b.tabTo(`#disable-key`, 10)
	b.do(chromedp.KeyEvent(kb.Enter))
	b.waitFor("the confirmation", `document.querySelector('dialog.confirm')?.open`)
	b.do(chromedp.KeyEvent(kb.Escape)) // cancels: the key stays enabled
	b.waitFor("the dialog closed", `!document.querySelector('dialog')`)
	if md, err := srv.Client().DescribeKey(t.Context(), &awskms.DescribeKeyInput{KeyId: out.KeyMetadata.KeyId}); err != nil || md.KeyMetadata.KeyState != types.KeyStateEnabled {
		t.Fatalf("after a cancelled confirmation: %v %v", err, md)
	}
	b.tabTo(`#signout`, 80)
	b.do(chromedp.KeyEvent(kb.Enter))
	b.waitFor("signed out", `document.querySelector('form.signin') && sessionStorage.length === 0`)
}

// The keys view lists one page of ListKeys at a time: with more than a
// page of keys it describes and tags the first page's keys only (counted
// by a proxy in front of the server), and Load more keys, reached by
// keyboard, appends the next page.
func TestBrowserKeysPaged(t *testing.T) {
	srv := kmstest.NewServer(t)
	ctx := t.Context()
	client := srv.Client()
	const n = 105
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				if _, err := client.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String(fmt.Sprintf("bulk %d", i))}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// A key of the second page, as the SDK pages.
	first, err := client.ListKeys(ctx, &awskms.ListKeysInput{Limit: aws.Int32(100)})
	if err != nil || !first.Truncated {
		t.Fatalf("ListKeys: %v %+v", err, first)
	}
	second, err := client.ListKeys(ctx, &awskms.ListKeysInput{Limit: aws.Int32(100), Marker: first.NextMarker})
	if err != nil || len(second.Keys) != n-100 {
		t.Fatalf("ListKeys' second page: %v %+v", err, second)
	}
	late := *second.Keys[0].KeyId

	// The browser talks to a proxy that counts the KMS operations. The
	// Host header passes unchanged, so the signatures still verify.
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	proxy.Transport = tr
	var mu sync.Mutex
	calls := map[string]int{}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "TrentService."); ok {
			mu.Lock()
			calls[op]++
			mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	counted := func() string {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprintf("ListKeys %d, DescribeKey %d, ListResourceTags %d", calls["ListKeys"], calls["DescribeKey"], calls["ListResourceTags"])
	}

	b := newBrowser(t)
	b.do(chromedp.Navigate(front.URL + "/console/"))
	b.waitFor("the sign-in form", `document.querySelector('form.signin')`)
	b.signIn(srv.AccessKeyID, srv.SecretAccessKey, "")
	b.waitFor("the first page", `document.querySelectorAll('table.keys tr[data-key-id]').length === 100 && document.getElementById('keys-more')?.checkVisibility()`)
	if got := eval[string](b, `document.getElementById('keys-status').innerText`); got != "100 of 100 loaded keys; more keys not loaded yet" {
		t.Errorf("status: %q", got)
	}
	if got, want := counted(), "ListKeys 1, DescribeKey 100, ListResourceTags 100"; got != want {
		t.Errorf("the first page asked %s, want %s", got, want)
	}
	if eval[bool](b, fmt.Sprintf(`!!document.querySelector('tr[data-key-id=%q]')`, late)) {
		t.Errorf("the second page's key %s shows before Load more keys", late)
	}
	b.checkAccessible("keys, first page")

	// A filter that matches only a key not loaded yet: nothing, and the
	// view says that more keys may match.
	b.set(`input[name=text]`, late)
	b.waitFor("the filter", `document.querySelectorAll('table.keys tr[data-key-id]').length === 0`)
	if got := eval[string](b, `document.getElementById('keys-status').innerText`); got != "0 of 100 loaded keys match; more keys not loaded yet" {
		t.Errorf("status with no match: %q", got)
	}
	if hint := eval[string](b, `document.querySelector('table.keys tbody').innerText`); !strings.Contains(hint, "Load more keys may find some") {
		t.Errorf("the table with no match: %q", hint)
	}

	// Load more keys by keyboard, from the filter.
	eval[chromedp.Void](b, `document.querySelector('input[name=text]').focus()`)
	b.tabTo(`#keys-more`, 5)
	b.do(chromedp.KeyEvent(kb.Enter))
	b.waitFor("the key of the second page", fmt.Sprintf(`document.querySelectorAll('table.keys tr[data-key-id]').length === 1 && document.querySelector('tr[data-key-id=%q]')`, late))
	if got := eval[string](b, `document.getElementById('keys-status').innerText`); got != "1 of 105 keys match" {
		t.Errorf("status after Load more keys: %q", got)
	}
	if eval[bool](b, `document.getElementById('keys-more').checkVisibility()`) {
		t.Error("Load more keys shows with every key loaded")
	}
	if got, want := counted(), "ListKeys 2, DescribeKey 105, ListResourceTags 105"; got != want {
		t.Errorf("both pages asked %s, want %s", got, want)
	}
	b.set(`input[name=text]`, "")
	b.waitFor("every key", `document.querySelectorAll('table.keys tr[data-key-id]').length === 105`)
	if got := eval[string](b, `document.getElementById('keys-status').innerText`); got != "105 of 105 keys" {
		t.Errorf("status with every key: %q", got)
	}

	// A key created in the console reloads the first page, and shows even
	// if ListKeys puts it on another page.
	b.do(chromedp.Click(`#create-key`), chromedp.WaitVisible(`dialog select[name=KeySpec]`))
	b.set(`dialog input[name=AliasName]`, "paged-new")
	b.do(chromedp.Click(`#create-key-submit`))
	b.waitFor("the created key", `[...document.querySelectorAll('table.keys tr[data-key-id]')].some(tr => tr.innerText.includes('alias/paged-new'))`)
	if rows := eval[int](b, `document.querySelectorAll('table.keys tr[data-key-id]').length`); rows != 100 && rows != 101 {
		t.Errorf("after creating a key, %d rows, want the first page and the new key", rows)
	}
	if !eval[bool](b, `document.getElementById('keys-more').checkVisibility()`) {
		t.Error("after creating a key, no Load more keys")
	}
}
