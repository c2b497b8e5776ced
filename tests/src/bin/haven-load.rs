//! haven-load: the project's load tool. Drives GetChild at a fixed concurrency against a gateway or a
//! service, and reports requests/s, latency percentiles and the CPU time each named process spent per
//! request (read from /proc, so it counts the servers' own CPU, not the load generator's).
//!
//!   haven-load register --target http://127.0.0.1:50151 --token T
//!   haven-load get --target URL --token T --id ID [--concurrency 64] [--connections 4]
//!              [--seconds 20] [--warmup 3] [--pid gateway=123 --pid identity=456]
//!   haven-load rest-get ...same flags...
//!
//! `rest-get` sends `GET /v1/children/{id}` over REST instead: HTTP/1.1 with kept-alive connections,
//! one per concurrent caller (HTTP/1.1 has no multiplexing), as a partner's pooled client would.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use haven_proto::identity::GetChildRequest;
use haven_proto::identity::child_identity_client::ChildIdentityClient;
use haven_tests::authed;
use haven_tests::fixtures::{case_child, register};
use tonic::transport::Channel;

struct Args {
    mode: String,
    target: String,
    token: String,
    id: String,
    concurrency: usize,
    connections: usize,
    seconds: u64,
    warmup: u64,
    pids: Vec<(String, u32)>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut raw = std::env::args().skip(1);
    let mode = raw
        .next()
        .context("usage: haven-load register|get --target URL --token T ...")?;
    let mut args = Args {
        mode,
        target: String::new(),
        token: String::new(),
        id: String::new(),
        concurrency: 64,
        connections: 4,
        seconds: 20,
        warmup: 3,
        pids: Vec::new(),
    };
    while let Some(flag) = raw.next() {
        let value = raw
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--target" => args.target = value,
            "--token" => args.token = value,
            "--id" => args.id = value,
            "--concurrency" => args.concurrency = value.parse()?,
            "--connections" => args.connections = value.parse()?,
            "--seconds" => args.seconds = value.parse()?,
            "--warmup" => args.warmup = value.parse()?,
            "--pid" => {
                let (name, pid) = value.split_once('=').context("--pid name=PID")?;
                args.pids.push((name.to_owned(), pid.parse()?));
            }
            other => bail!("unknown flag {other}"),
        }
    }
    if args.target.is_empty() || args.token.is_empty() {
        bail!("--target and --token are required");
    }
    Ok(args)
}

/// utime + stime of a process, in microseconds.
fn cpu_micros(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = stat.rsplit_once(')').context("stat format")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11).context("utime")?.parse()?;
    let stime: u64 = fields.get(12).context("stime")?.parse()?;
    // Linux reports in clock ticks of 1/100 s on every platform this runs on.
    Ok((utime + stime) * 10_000)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let channel = Channel::from_shared(args.target.clone())?.connect().await?;
    let mut client = ChildIdentityClient::new(channel);
    if args.mode == "register" {
        let view = client
            .register_child(authed(
                &args.token,
                register(case_child("Benchmark", "Child", false)),
            ))
            .await?
            .into_inner();
        println!("{}", view.child.and_then(|c| c.meta).context("meta")?.id);
        return Ok(());
    }
    if args.mode == "rest-get" {
        return rest_get(&args).await;
    }
    if args.mode != "get" {
        bail!("mode must be register, get or rest-get");
    }
    let mut clients = Vec::new();
    for _ in 0..args.connections.max(1) {
        let channel = Channel::from_shared(args.target.clone())?.connect().await?;
        clients.push(ChildIdentityClient::new(channel));
    }
    // Warm up: caches (token verification), connection windows, database pages.
    run(&clients, &args, Duration::from_secs(args.warmup)).await?;

    let cpu_before: Vec<u64> = args
        .pids
        .iter()
        .map(|(_, pid)| cpu_micros(*pid))
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    let latencies = run(&clients, &args, Duration::from_secs(args.seconds)).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_after: Vec<u64> = args
        .pids
        .iter()
        .map(|(_, pid)| cpu_micros(*pid))
        .collect::<Result<_, _>>()?;

    report(&args, latencies, elapsed, &cpu_before, &cpu_after)
}

/// Prints the throughput, latency percentiles and each process's CPU per request.
fn report(
    args: &Args,
    mut latencies: Vec<u32>,
    elapsed: f64,
    cpu_before: &[u64],
    cpu_after: &[u64],
) -> anyhow::Result<()> {
    latencies.sort_unstable();
    let n = latencies.len();
    if n == 0 {
        bail!("no request completed");
    }
    let pct = |p: f64| latencies[((n as f64 * p) as usize).min(n - 1)];
    println!("target         {}", args.target);
    println!(
        "concurrency    {} over {} connections",
        args.concurrency, args.connections
    );
    println!("requests       {n} in {elapsed:.1} s");
    println!("throughput     {:.0} req/s", n as f64 / elapsed);
    println!("latency p50    {} us", pct(0.50));
    println!("latency p99    {} us", pct(0.99));
    for (i, (name, _)) in args.pids.iter().enumerate() {
        let per_request = (cpu_after[i] - cpu_before[i]) as f64 / n as f64;
        println!("cpu {name:<10} {per_request:.1} us/request");
    }
    Ok(())
}

/// `rest-get`: the same measurement over REST/JSON on HTTP/1.1.
async fn rest_get(args: &Args) -> anyhow::Result<()> {
    let addr: std::net::SocketAddr = args
        .target
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .context("--target must be http://host:port")?;
    let mut connections = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        connections.push(haven_tests::http1::KeepAlive::connect(addr).await?);
    }
    let (connections, _) = rest_run(connections, args, Duration::from_secs(args.warmup)).await?;
    let cpu_before: Vec<u64> = args
        .pids
        .iter()
        .map(|(_, pid)| cpu_micros(*pid))
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    let (_, latencies) = rest_run(connections, args, Duration::from_secs(args.seconds)).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_after: Vec<u64> = args
        .pids
        .iter()
        .map(|(_, pid)| cpu_micros(*pid))
        .collect::<Result<_, _>>()?;
    report(args, latencies, elapsed, &cpu_before, &cpu_after)
}

/// Sends GET /v1/children/{id} on every connection for `duration`; gives the connections back with
/// each request's latency in microseconds. Any answer but 200 stops the run.
async fn rest_run(
    connections: Vec<haven_tests::http1::KeepAlive>,
    args: &Args,
    duration: Duration,
) -> anyhow::Result<(Vec<haven_tests::http1::KeepAlive>, Vec<u32>)> {
    let deadline = Instant::now() + duration;
    let path = format!("/v1/children/{}", args.id);
    let bearer = format!("Bearer {}", args.token);
    let mut tasks = Vec::new();
    for mut connection in connections {
        let path = path.clone();
        let bearer = bearer.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let start = Instant::now();
                let answer = connection.get(&path, &[("Authorization", &bearer)]).await?;
                if answer.status != 200 {
                    bail!("GET {path} answered {}: {}", answer.status, answer.text());
                }
                latencies.push(start.elapsed().as_micros() as u32);
            }
            Ok((connection, latencies))
        }));
    }
    let mut kept = Vec::new();
    let mut all = Vec::new();
    for task in tasks {
        let (connection, latencies) = task.await??;
        kept.push(connection);
        all.extend(latencies);
    }
    Ok((kept, all))
}

/// Runs GetChild from `concurrency` tasks for `duration`; returns each call's latency in microseconds.
async fn run(
    clients: &[ChildIdentityClient<Channel>],
    args: &Args,
    duration: Duration,
) -> anyhow::Result<Vec<u32>> {
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for worker in 0..args.concurrency {
        let mut client = clients[worker % clients.len()].clone();
        let token = args.token.clone();
        let id = args.id.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let start = Instant::now();
                client
                    .get_child(authed(&token, GetChildRequest { id: id.clone() }))
                    .await?;
                latencies.push(start.elapsed().as_micros() as u32);
            }
            Ok::<_, tonic::Status>(latencies)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    Ok(all)
}
