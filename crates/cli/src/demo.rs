//! `oversight demo`: a server on a fresh data directory with built-in areas,
//! the demo points, the public sample packets and simulated dataloggers.
//!
//! The data directory gets a marker file, so a later demo may reuse it while
//! a directory that contains anything else is rejected.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use jiff::Timestamp;
use oversight_auth::{Role, password, secret};
use oversight_core::{Actor, MonitoringPoint, SystemClock};
use oversight_server::config::{ConfigOverrides, Settings};
use oversight_server::import::{NoProgress, import_builtin_areas, import_point_file};
use oversight_server::runtime::{Server, shutdown_signal};
use oversight_simulate::{DeviceIdentity, Profile, SimulateConfig};
use oversight_store::{NewDepartment, NewUser, PointQuery, Store, SummaryQuery};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::Cli;
use crate::import::open_store;
use crate::user::cli_audit;

/// The demo's monitoring points, in the format of `oversight import points`.
const POINTS_CSV: &str = include_str!("../../../data/demo/points.csv");

/// Public HJ 212 sample packets, valid and malformed, one per line.
const SAMPLES: &str = include_str!("../../../data/hj212/samples-public.txt");

/// The file that marks a data directory as made by the demo.
const MARKER: &str = ".oversight-demo";

/// Provinces whose built-in areas the demo loads: Fujian (Xiamen) and Chongqing.
const PROVINCES: [&str; 2] = ["35", "50"];

/// The upload interval of the simulated demo points, in seconds; `points.csv` uses it.
const DEMO_INTERVAL_SECS: u32 = 10;

/// The point whose datalogger stops after [`SILENT_AFTER_SECS`], so a data-missing alert opens.
const SILENT_MN: &str = "35021332000002";
const SILENT_AFTER_SECS: f64 = 40.0;

/// Share of simulated values sent above their upper limit.
const EXCEEDANCE_SHARE: f64 = 0.004;

/// Seconds between the summary lines on standard output.
const SUMMARY_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Data directory; must be new, empty or a previous demo's.
    #[arg(long, value_name = "DIR", default_value = "./oversight-demo")]
    data_dir: PathBuf,
    /// Address of the HTTP API and dashboard. Default: 127.0.0.1:8080, or `http.listen` of
    /// the configuration.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// Address of the HJ 212 TCP listener. Default: 127.0.0.1:9212, or `hj212.listen` of the
    /// configuration.
    #[arg(long, value_name = "ADDR")]
    hj212: Option<SocketAddr>,
    /// Stop after this many seconds. Default: run until Ctrl-C or SIGTERM.
    #[arg(long, value_name = "SECONDS")]
    duration: Option<u64>,
}

pub(crate) async fn run(cli: &Cli, args: &DemoArgs) -> anyhow::Result<ExitCode> {
    let overrides = ConfigOverrides {
        data_dir: Some(args.data_dir.clone()),
        http_listen: args.http,
        hj212_listen: args.hj212,
        ..cli.overrides(None)
    };
    let mut settings = cli.settings(&overrides)?;
    oversight_server::telemetry::init_logging(&settings.log)?;
    prepare_data_dir(&settings.data_dir)?;
    let store = open_store(&settings).await?;
    let points = load_demo_data(store.as_ref(), &settings.data_dir).await?;
    let (logins, department_id) = create_demo_accounts(store.as_ref(), &points).await?;
    if settings.notify.enabled && settings.notify.recipients.is_empty() {
        add_demo_recipients(&mut settings.notify, department_id)?;
    }

    let started = Timestamp::now();
    let server = Server::start(&settings, Arc::clone(&store), Arc::new(SystemClock)).await?;
    print_banner(&server, &settings)?;
    for (username, role, password) in &logins {
        say(&format!("login: {username} password: {password} ({role})"))?;
    }
    let (sent, acked) = replay_samples(server.hj212_addr()).await?;
    say(&format!(
        "replayed {sent} public sample packets, {acked} acknowledged"
    ))?;

    let cancel = server.shutdown_token();
    let mut simulators = start_simulators(&points, server.hj212_addr(), &cancel);
    let deadline = args.duration.map(Duration::from_secs);
    wait_for_stop(store.as_ref(), started, deadline).await;

    server.shutdown();
    while let Some(result) = simulators.join_next().await {
        if let Ok(Err(error)) = result {
            tracing::warn!(error = %error, "simulator stopped with an error");
        }
    }
    server.wait().await?;
    Ok(ExitCode::SUCCESS)
}

/// Creates the data directory, or checks that it is empty or a previous demo's.
fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    let marker = dir.join(MARKER);
    if dir.exists() {
        if marker.is_file() {
            return Ok(());
        }
        let mut entries = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read data directory {}", dir.display()))?;
        if entries.next().is_some() {
            bail!(
                "data directory {} is not empty and was not created by `oversight demo`; \
                 choose another with --data-dir or remove it",
                dir.display()
            );
        }
    }
    oversight_server::data_dir::prepare_data_dir(dir)?;
    std::fs::write(&marker, "created by oversight demo\n")
        .with_context(|| format!("cannot write {}", marker.display()))?;
    Ok(())
}

/// Imports the areas and demo points, and returns the points.
async fn load_demo_data(store: &dyn Store, dir: &Path) -> anyhow::Result<Vec<MonitoringPoint>> {
    let provinces: Vec<String> = PROVINCES.iter().map(|code| (*code).to_owned()).collect();
    let areas = import_builtin_areas(store, &provinces, &mut NoProgress).await?;
    let csv_path = dir.join("demo-points.csv");
    std::fs::write(&csv_path, POINTS_CSV)
        .with_context(|| format!("cannot write {}", csv_path.display()))?;
    let report =
        import_point_file(store, &csv_path, &Actor::command_line(), &mut NoProgress).await?;
    if let Some(error) = report.errors.first() {
        bail!("the built-in demo points are invalid: {error}");
    }
    tracing::info!(
        areas = areas.imported,
        points = report.imported,
        "demo data loaded"
    );

    let mut points = Vec::new();
    let mut query = PointQuery {
        limit: 1000,
        ..PointQuery::default()
    };
    loop {
        let page = store.points(&query).await?;
        points.extend(page.items);
        let Some(cursor) = page.next_cursor else {
            break;
        };
        query.cursor = Some(cursor);
    }
    Ok(points)
}

/// Creates the demo accounts, or sets new passwords on those that exist,
/// and returns each login name, role and password, and the department's id.
/// The department covers the area of the first demo point, and the
/// enterprise owns that point.
async fn create_demo_accounts(
    store: &dyn Store,
    points: &[MonitoringPoint],
) -> anyhow::Result<(Vec<(String, Role, String)>, i64)> {
    let Some(first) = points.first() else {
        bail!("the demo has no points to create accounts for");
    };
    let department_id = match store.departments().await?.first() {
        Some(department) => department.id,
        None => {
            let department = NewDepartment {
                name: "Demo Ecology and Environment Bureau".to_owned(),
                areas: vec![first.area.clone()],
                categories: vec!["water".to_owned(), "air".to_owned()],
            };
            store.create_department(&department, &cli_audit()).await?.id
        }
    };
    let accounts = [
        ("admin", Role::SystemAdmin, None, Vec::new()),
        (
            "staff",
            Role::DepartmentStaff,
            Some(department_id),
            Vec::new(),
        ),
        (
            "inspector",
            Role::Inspector,
            Some(department_id),
            Vec::new(),
        ),
        (
            "enterprise",
            Role::RegulatedParty,
            None,
            vec![first.mn.clone()],
        ),
    ];
    let mut logins = Vec::new();
    for (username, role, department_id, points) in accounts {
        let password = secret::generate("")?.value[..16].to_owned();
        let password_hash = tokio::task::spawn_blocking({
            let password = password.clone();
            move || password::hash(&password)
        })
        .await??;
        match store.user_by_name(username).await? {
            Some(user) => {
                store
                    .set_password_hash(user.id, &password_hash, &cli_audit())
                    .await?;
            }
            None => {
                let user = NewUser {
                    username: username.to_owned(),
                    display_name: username.to_owned(),
                    role,
                    department_id,
                    points,
                    password_hash,
                };
                store.create_user(&user, &cli_audit()).await?;
            }
        }
        logins.push((username.to_owned(), role, password));
    }
    Ok((logins, department_id))
}

/// Adds the demo's notification recipients. The department that the
/// built-in rules route to has its inbox read by the demo department. The
/// `admin` account reads the duty officer's inbox, and the duty officer's
/// webhook endpoint refuses connections, so its notifications become dead
/// letters for the dashboard to show and retry.
fn add_demo_recipients(
    notify: &mut oversight_notify::NotifyConfig,
    department_id: i64,
) -> anyhow::Result<()> {
    // A port that was free a moment ago refuses connections once released.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .context("cannot pick a closed port for the demo webhook")?
        .port();
    let demo: oversight_notify::NotifyConfig = toml::from_str(&format!(
        r#"
group_wait_secs = 5
max_attempts = 2
retry_initial_ms = 1000

[[webhooks]]
id = "duty-webhook"
url = "http://127.0.0.1:{closed_port}/oversight"
secret = "demo-secret-not-for-production"
timeout_secs = 2

[[recipients]]
id = "ecology-environment"
name = "Demo Ecology and Environment Bureau"
kind = "department"
department_id = {department_id}

[[recipients]]
id = "duty-officer"
name = "Duty officer"
account = "admin"
webhook = "duty-webhook"

[[routes]]
recipients = ["duty-officer"]
"#
    ))
    .context("the demo's notification settings are invalid")?;
    demo.validate()
        .context("the demo's notification settings are invalid")?;
    *notify = demo;
    Ok(())
}

fn print_banner(server: &Server, settings: &Settings) -> anyhow::Result<()> {
    let mut http = server.http_addr();
    if http.ip().is_unspecified() {
        http.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    say(&format!("dashboard: http://{http}/"))?;
    say(&format!("HJ 212 listener: {}", server.hj212_addr()))?;
    say(&format!("data directory: {}", settings.data_dir.display()))?;
    say(
        "log in to the dashboard with one of these demo accounts; their passwords change at every start:",
    )?;
    Ok(())
}

/// Sends every framed line of the public samples over one connection and
/// counts the 9014 acknowledgements that come back.
async fn replay_samples(target: SocketAddr) -> anyhow::Result<(usize, usize)> {
    let stream = TcpStream::connect(target)
        .await
        .with_context(|| format!("cannot connect to the HJ 212 listener {target}"))?;
    let (mut reader, mut writer) = stream.into_split();
    let acks = tokio::spawn(async move {
        let mut received = Vec::new();
        let mut buffer = [0u8; 4096];
        let read_all = async {
            while let Ok(count) = reader.read(&mut buffer).await {
                if count == 0 {
                    break;
                }
                received.extend_from_slice(&buffer[..count]);
            }
        };
        // The listener keeps the connection open, so reading stops after a pause.
        let _ = tokio::time::timeout(Duration::from_secs(3), read_all).await;
        String::from_utf8_lossy(&received)
            .matches("CN=9014")
            .count()
    });
    let mut sent = 0;
    for line in SAMPLES.lines().filter(|line| line.starts_with("##")) {
        writer.write_all(line.as_bytes()).await?;
        writer.write_all(b"\r\n").await?;
        sent += 1;
    }
    writer.flush().await?;
    let acked = acks.await.context("acknowledgement reader panicked")?;
    Ok((sent, acked))
}

/// Starts one simulator per site profile for the demo points, and one for the point that falls silent.
fn start_simulators(
    points: &[MonitoringPoint],
    target: SocketAddr,
    cancel: &CancellationToken,
) -> JoinSet<Result<(), oversight_simulate::SimulateError>> {
    let mut groups: Vec<(Profile, Vec<DeviceIdentity>, f64)> = Vec::new();
    for point in points
        .iter()
        .filter(|point| point.interval_secs == DEMO_INTERVAL_SECS)
    {
        let Some(profile) = profile_of(point) else {
            tracing::warn!(mn = %point.mn, st = point.system_code.as_str(), "no simulator for this system code");
            continue;
        };
        let identity = DeviceIdentity {
            mn: point.mn.to_string(),
            password: point.password.expose().clone(),
        };
        if point.mn.as_str() == SILENT_MN {
            groups.push((profile, vec![identity], SILENT_AFTER_SECS));
            continue;
        }
        match groups
            .iter_mut()
            .find(|(known, _, duration)| *known == profile && *duration == 0.0)
        {
            Some((_, devices, _)) => devices.push(identity),
            None => groups.push((profile, vec![identity], 0.0)),
        }
    }

    let mut tasks = JoinSet::new();
    for (index, (profile, devices, duration_secs)) in groups.into_iter().enumerate() {
        let config = SimulateConfig {
            target: target.to_string(),
            connections: devices.len(),
            rate: 1.0 / f64::from(DEMO_INTERVAL_SECS),
            max_in_flight: 4,
            duration_secs,
            profile,
            devices,
            exceedance_share: EXCEEDANCE_SHARE,
            report_interval_secs: 0.0,
            seed: index as u64 + 1,
            ..SimulateConfig::default()
        };
        let cancel = cancel.clone();
        tasks.spawn(async move {
            oversight_simulate::run(&config, cancel, |_| {})
                .await
                .map(|_| ())
        });
    }
    tasks
}

fn profile_of(point: &MonitoringPoint) -> Option<Profile> {
    match point.system_code.as_str() {
        "32" => Some(Profile::Wastewater),
        "31" => Some(Profile::AirSource),
        "22" => Some(Profile::AmbientAir),
        "23" => Some(Profile::Noise),
        _ => None,
    }
}

/// Prints a summary line every few seconds until Ctrl-C, SIGTERM or the deadline.
async fn wait_for_stop(store: &dyn Store, started: Timestamp, deadline: Option<Duration>) {
    let stop = async {
        match deadline {
            Some(duration) => {
                tokio::select! {
                    () = tokio::time::sleep(duration) => tracing::info!("demo duration reached"),
                    () = shutdown_signal() => {}
                }
            }
            None => shutdown_signal().await,
        }
    };
    tokio::pin!(stop);
    let mut ticker = tokio::time::interval(SUMMARY_EVERY);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = ticker.tick() => print_summary(store, started).await,
        }
    }
}

async fn print_summary(store: &dyn Store, started: Timestamp) {
    let query = SummaryQuery {
        areas: None,
        points: None,
        readings_since: started,
        online_since: started,
    };
    match store.summary(&query).await {
        Ok(summary) => {
            let line = format!(
                "readings stored: {}, open alerts: {}, points: {}",
                summary.readings, summary.open_alerts, summary.points
            );
            // A closed standard output only loses the summary line.
            let _ = say(&line);
        }
        Err(error) => tracing::warn!(error = %error, "cannot read the summary"),
    }
}

/// Writes one line to standard output.
fn say(line: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    Ok(())
}
