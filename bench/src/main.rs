//! `make bench`: the numbers docs/architecture.md budgets, measured on this machine and
//! printed as Markdown tables.
//!
//! - cold start: exec to the first Runtime API poll, for each function and for
//!   a bare `lambda_runtime` hello-world built with the same profile;
//! - warm invocations through the Runtime API and the peak RSS they leave;
//! - release binary size, raw and zipped;
//! - the generation worker's throughput, and a slow provider's batch,
//! - HTTP latency and throughput of key routes through `toolbox-local`,
//!   loaded from this process.
//!
//! Run inside `scripts/with-moto` after a release build (`make bench` does
//! both). The binaries are native (x86_64 here), not the arm64 ones Lambda runs.

mod http_load;
mod runtime_api;
mod webhook_load;
mod worker_load;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use http_load::Credential;
use runtime_api::RuntimeApi;
use serde_json::Value;

type Error = Box<dyn std::error::Error + Send + Sync>;

const COLD_RUNS: usize = 15;
const WARM_INVOCATIONS: usize = 300;
const LOAD_SECONDS: u64 = 5;
const LOAD_CONCURRENCY: usize = 4;

/// A function binary and an event from `events/` that exercises it.
struct Function {
    binary: &'static str,
    event: &'static str,
    what: &'static str,
}

const FUNCTIONS: &[Function] = &[
    Function { binary: "health", event: "health/ready.json", what: "GET /health/ready (4 dependency checks)" },
    Function { binary: "auth", event: "auth/login.json", what: "POST /auth/login (unknown user: argon2 + 1 read)" },
    Function { binary: "organizations", event: "organizations/get-current.json", what: "GET /organizations/current" },
    Function { binary: "authorizer", event: "authorizer/request.json", what: "a refused token" },
    Function { binary: "api-keys", event: "api-keys/list-keys.json", what: "GET /api-keys" },
    Function { binary: "content", event: "content/search.json", what: "GET /content/search?q=fractions" },
    Function { binary: "classes", event: "classes/list-classes.json", what: "GET /classes" },
    Function { binary: "lessons", event: "lessons/list-lessons.json", what: "GET /lessons" },
    Function { binary: "assessments", event: "assessments/list-assessments.json", what: "GET /assessments" },
    Function { binary: "messages", event: "messages/list-messages.json", what: "GET /messages" },
    Function { binary: "realtime", event: "realtime/pusher-auth.json", what: "POST /pusher/auth (private-org)" },
    Function { binary: "dashboard", event: "dashboard/metrics.json", what: "GET /dashboard/metrics" },
    Function { binary: "analytics", event: "analytics/trend.json", what: "GET /analytics/trends/logins (12 weeks)" },
    Function { binary: "payments", event: "payments/subscription.json", what: "GET /payments/subscription" },
    Function {
        binary: "compliance",
        event: "compliance/list-audit-logs.json",
        what: "GET /compliance/audit-logs?action=member.role_changed",
    },
    Function { binary: "roblox", event: "roblox/list-environments.json", what: "GET /roblox/environments" },
    Function {
        binary: "dashboard-events",
        event: "dashboard-events/stream.json",
        what: "a stream batch of four changes (one organization)",
    },
    Function {
        binary: "content-worker",
        event: "content-worker/job.json",
        what: "an SQS batch of one (no such job: acknowledged)",
    },
];

fn release_dir() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    Path::new(&target).join("release")
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    http_load::percentile(&values, 0.5)
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn mib(bytes: u64) -> String {
    format!("{:.2}", bytes as f64 / (1024.0 * 1024.0))
}

/// Starts `binary` as Lambda would, against the emulator at `api`.
fn spawn_function(binary: &Path, api: &RuntimeApi, env: &[(String, String)]) -> std::io::Result<Child> {
    Command::new(binary)
        .envs(env.iter().cloned())
        .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
}

fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

async fn cold_start(binary: &Path, env: &[(String, String)]) -> Result<Duration, Error> {
    let mut samples = Vec::new();
    for _ in 0..COLD_RUNS {
        let api = RuntimeApi::start().await?;
        let started = std::time::Instant::now();
        let child = spawn_function(binary, &api, env)?;
        let polled = api.first_poll(Duration::from_secs(10)).await;
        kill(child);
        samples.push(polled.ok_or_else(|| format!("{} never polled", binary.display()))? - started);
    }
    Ok(median(samples))
}

/// Warm invocations of one event: p50, p99, failures, and peak RSS after.
async fn warm(
    binary: &Path,
    env: &[(String, String)],
    event: &[u8],
) -> Result<(Duration, Duration, usize, u64), Error> {
    let mut api = RuntimeApi::start().await?;
    let child = spawn_function(binary, &api, env)?;
    api.first_poll(Duration::from_secs(10)).await.ok_or("the function never polled")?;
    let mut latencies = Vec::new();
    let mut failures = 0;
    for _ in 0..WARM_INVOCATIONS {
        let (took, ok) = api.invoke(event, Duration::from_secs(30)).await.ok_or("an invocation timed out")?;
        latencies.push(took);
        failures += usize::from(!ok);
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    kill(child);
    latencies.sort();
    Ok((http_load::percentile(&latencies, 0.5), http_load::percentile(&latencies, 0.99), failures, peak_kib * 1024))
}

fn zipped_size(binary: &Path) -> Result<u64, Error> {
    let zip = std::env::temp_dir().join(format!("toolbox-bench-{}.zip", std::process::id()));
    let status = Command::new("python3")
        .args(["-c", "import sys, zipfile; zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED, compresslevel=9).write(sys.argv[1], 'bootstrap')"])
        .arg(binary)
        .arg(&zip)
        .status()?;
    if !status.success() {
        return Err("zipping failed".into());
    }
    let size = std::fs::metadata(&zip)?.len();
    std::fs::remove_file(&zip)?;
    Ok(size)
}

fn event(name: &str) -> Result<Vec<u8>, Error> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events").join(name);
    let mut value: Value = serde_json::from_slice(&std::fs::read(path)?)?;
    // The sample events carry a fixed request id header; keep it unique per file.
    if let Some(headers) = value.get_mut("headers").and_then(Value::as_object_mut) {
        headers.remove("X-Request-ID");
    }
    Ok(serde_json::to_vec(&value)?)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name").map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned()))
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!("{date}, {cores} cores, {cpu}, {} {}", std::env::consts::OS, std::env::consts::ARCH)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    if std::env::var("AWS_ENDPOINT_URL").map(|v| v.is_empty()).unwrap_or(true) {
        return Err("run under scripts/with-moto (make bench does)".into());
    }
    let template = toolbox_local::template::Template::workspace()?;
    let sdk = store::aws::load_sdk_config().await;
    let provisioned = toolbox_local::provision::provision(&template, &sdk, "toolbox-bench").await?;
    let mut env: Vec<(String, String)> = toolbox_local::environment(&template, &provisioned).into_iter().collect();
    // A Pusher app, so that /pusher/auth signs (it makes no call to Pusher),
    // its secret in the stack's PusherSecret as deployed.
    let pusher_secret = provisioned.physical_id("PusherSecret").ok_or("no PusherSecret")?;
    for (name, value) in [
        ("PUSHER_APP_ID", "bench"),
        ("PUSHER_KEY", "bench-key"),
        ("PUSHER_SECRET_ID", pusher_secret),
        ("PUSHER_CLUSTER", "mt1"),
        // The price the webhook benchmark's subscription is for.
        ("STRIPE_PRICE_PRO_MONTH", webhook_load::PRO_MONTH),
    ] {
        env.push((name.to_owned(), value.to_owned()));
    }
    let release = release_dir();

    println!("Measured {}.\n", machine());

    println!("### Cold start (exec to first Runtime API poll, median of {COLD_RUNS})\n");
    println!("| binary | cold start ms | × hello-world |\n|---|---|---|");
    let hello = cold_start(&release.join("hello"), &env).await?;
    println!("| hello (bare lambda_runtime) | {} | 1.00 |", ms(hello));
    for function in FUNCTIONS {
        let cold = cold_start(&release.join(function.binary), &env).await?;
        println!("| {} | {} | {:.2} |", function.binary, ms(cold), cold.as_secs_f64() / hello.as_secs_f64());
    }

    println!("\n### Warm invocations through the Runtime API ({WARM_INVOCATIONS} each) and peak RSS\n");
    println!("| binary | event | p50 ms | p99 ms | failed | peak RSS MiB |\n|---|---|---|---|---|---|");
    for function in FUNCTIONS {
        let (p50, p99, failed, rss) = warm(&release.join(function.binary), &env, &event(function.event)?).await?;
        println!("| {} | {} | {} | {} | {failed} | {} |", function.binary, function.what, ms(p50), ms(p99), mib(rss));
    }

    println!("\n### Release binaries (stripped) and their Lambda zip\n");
    println!("| binary | size MiB | zipped MiB |\n|---|---|---|");
    for binary in ["hello"].into_iter().chain(FUNCTIONS.iter().map(|f| f.binary)) {
        let path = release.join(binary);
        println!("| {binary} | {} | {} |", mib(std::fs::metadata(&path)?.len()), mib(zipped_size(&path)?));
    }

    http_routes(&release, &env, &sdk, &provisioned).await?;
    worker_load::run(&template, &provisioned).await
}

/// Latency and throughput of key routes through toolbox-local (a release
/// build in its own process), against moto.
async fn http_routes(
    release: &Path,
    env: &[(String, String)],
    sdk: &store::aws::SdkConfig,
    provisioned: &toolbox_local::provision::Provisioned,
) -> Result<(), Error> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let local = Command::new(release.join("toolbox-local"))
        .envs(env.iter().cloned())
        .env("LOCAL_ADDR", addr.to_string())
        .env("LOCAL_SEED_DEMO", "0")
        .env("LOCAL_THROTTLE", "0")
        .env("LOCAL_RESOURCE_PREFIX", "toolbox-bench")
        .env("TEMPLATE_PATH", Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"))
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let local = Arc::new(std::sync::Mutex::new(Some(local)));
    let result = async {
        let mut stream = loop {
            if let Ok(mut stream) = http_load::connect(addr).await
                && matches!(http_load::request(&mut stream, "GET", "/api/v1/health", None, None).await, Ok((200, _)))
            {
                break stream;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let email = format!("bench-{}@example.com", std::process::id());
        let body = format!(
            r#"{{"email":"{email}","password":"bench-password-1","first_name":"Ben","last_name":"Ch","organization_name":"Bench School"}}"#
        );
        let (status, registered) = http_load::request(&mut stream, "POST", "/api/v1/auth/register", None, Some(&body)).await?;
        if status != 201 {
            return Err(format!("registering failed with {status}: {registered}").into());
        }
        let registered: Value = serde_json::from_str(&registered)?;
        // 'static for the load workers; the process ends soon after.
        let token: &'static str =
            registered["data"]["access_token"].as_str().ok_or("no token")?.to_owned().leak();
        let key_body = r#"{"name":"bench","scopes":["read"]}"#;
        let (status, created) = http_load::request(
            &mut stream,
            "POST",
            "/api/v1/api-keys",
            Some(Credential::Bearer(token)),
            Some(key_body),
        )
        .await?;
        if status != 201 {
            return Err(format!("creating an API key failed with {status}: {created}").into());
        }
        let created: Value = serde_json::from_str(&created)?;
        let api_key: &'static str = created["data"]["key"].as_str().ok_or("no key")?.to_owned().leak();

        println!("\n### HTTP through toolbox-local ({LOAD_CONCURRENCY} connections, {LOAD_SECONDS} s per route)\n");
        println!("| route | requests | errors | req/s | p50 ms | p99 ms |\n|---|---|---|---|---|---|");
        // The dashboard computed every time, and answered from its kept copy.
        const FRESH: &str = "Cache-Control: no-cache\r\n";
        for (path, credential, headers, how) in [
            ("/api/v1/health/live", None, "", ""),
            ("/api/v1/auth/me", Some(Credential::Bearer(token)), "", ""),
            ("/api/v1/organizations/current", Some(Credential::Bearer(token)), "", " (bearer)"),
            ("/api/v1/organizations/current", Some(Credential::ApiKey(api_key)), "", " (API key)"),
            ("/api/v1/organizations/current/members?limit=20", Some(Credential::Bearer(token)), "", ""),
            ("/api/v1/dashboard/metrics", Some(Credential::Bearer(token)), FRESH, " (computed)"),
            ("/api/v1/dashboard/metrics", Some(Credential::Bearer(token)), "", " (kept)"),
            ("/api/v1/dashboard/statistics", Some(Credential::Bearer(token)), FRESH, " (30 days, computed)"),
            ("/api/v1/dashboard/statistics", Some(Credential::Bearer(token)), "", " (30 days, kept)"),
        ] {
            let (concurrency, seconds) = (LOAD_CONCURRENCY, Duration::from_secs(LOAD_SECONDS));
            let load = http_load::run(addr, path, credential, headers, concurrency, seconds).await;
            println!(
                "| GET {path}{how} | {} | {} | {:.0} | {} | {} |",
                load.requests,
                load.errors,
                load.rps,
                ms(load.p50),
                ms(load.p99)
            );
        }
        // Stripe's webhook, for the organisation registered above: its
        // customer's lookup item (a checkout would write it), and the
        // signing secret the stack's StripeSecret was made with.
        let org = registered["data"]["user"]["organization_id"].as_str().ok_or("no organization")?;
        let aws = store::aws::AwsClients::new(sdk);
        let table = env.iter().find(|(name, _)| name == "TABLE_NAME").ok_or("no TABLE_NAME")?.1.clone();
        let lookup = domain::tenancy::Lookup::organization(org.parse()?);
        let customer = format!("cus_bench_{}", std::process::id());
        store::db::Db::new(aws.dynamodb.clone(), table)
            .overwrite(&domain::tenancy::global::stripe_customer(&customer), &lookup)
            .await?;
        let secret_id = provisioned.physical_id("StripeSecret").ok_or("no StripeSecret")?;
        let stored = aws.secrets.get_secret_value().secret_id(secret_id).send().await?;
        let keys: Value = serde_json::from_str(stored.secret_string().ok_or("an empty StripeSecret")?)?;
        let secret = keys["webhook_secret"].as_str().ok_or("no webhook_secret")?;
        webhook_load::run(addr, &customer, secret).await?;
        Ok::<(), Error>(())
    }
    .await;
    if let Some(child) = local.lock().unwrap().take() {
        kill(child);
    }
    result
}
