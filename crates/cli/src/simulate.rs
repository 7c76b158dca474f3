//! `oversight simulate hj212`: the datalogger simulator's options as flags.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use oversight_core::AreaCode;
use oversight_simulate::{DeviceIdentity, Profile, Report, SimulateConfig};
use tokio_util::sync::CancellationToken;

use crate::Cli;

#[derive(Debug, Subcommand)]
pub(crate) enum SimulateCommand {
    /// Simulate HJ 212 dataloggers: one TCP connection each, real-time uploads with
    /// Flag=5, acknowledgement latency measured from send to 9014.
    ///
    /// Register the simulated points first: --write-points FILE --area CODE writes them as
    /// a CSV for `oversight import points` and exits.
    Hj212(Hj212Args),
}

#[derive(Debug, Args)]
pub(crate) struct Hj212Args {
    /// The HJ 212 listener to connect to, host:port.
    #[arg(long, default_value = "127.0.0.1:9212", value_name = "ADDR")]
    target: String,
    /// Number of dataloggers, each on its own TCP connection.
    #[arg(long, default_value_t = 10, value_name = "N")]
    connections: usize,
    /// Real-time uploads per second per connection; 0 sends as fast as --max-in-flight allows.
    #[arg(long, default_value_t = 1.0, value_name = "PER_SEC")]
    rate: f64,
    /// Uploads a connection may send before it waits for their acknowledgements.
    #[arg(long, default_value_t = 16, value_name = "N")]
    max_in_flight: usize,
    /// Run time in seconds; 0 runs until Ctrl-C.
    #[arg(long, default_value_t = 0.0, value_name = "SECONDS")]
    duration: f64,
    /// The kind of site the dataloggers monitor.
    #[arg(long, value_enum, default_value_t = ProfileArg::Wastewater)]
    profile: ProfileArg,
    /// CSV file with mn and password columns (a point import file works) naming the
    /// dataloggers. Default: MNs SIM000…0 upward are generated.
    #[arg(long, value_name = "FILE")]
    devices: Option<PathBuf>,
    /// Number of the first generated MN.
    #[arg(long, default_value_t = 0, value_name = "N")]
    first_index: u64,
    /// Password (PW) of generated dataloggers.
    #[arg(long, default_value = "123456", value_name = "PW")]
    password: String,
    /// Also send minute (CN 2051) and hourly (CN 2061) data at the end of each period.
    #[arg(long)]
    aggregates: bool,
    /// Minute-data period in minutes: 1, 2, 3, 4, 5, 6, 10, 12, 15, 20 or 30.
    #[arg(long, default_value_t = 10, value_name = "MINUTES")]
    minute_interval: u32,
    /// Share of values, 0 to 1, sent above their factor's upper limit.
    #[arg(long, default_value_t = 0.0, value_name = "SHARE")]
    exceedance_share: f64,
    /// Share of dataloggers, 0 to 1, whose values never change.
    #[arg(long, default_value_t = 0.0, value_name = "SHARE")]
    flatline_share: f64,
    /// Share of dataloggers, 0 to 1, that fall silent for --dropout-secs now and then.
    #[arg(long, default_value_t = 0.0, value_name = "SHARE")]
    dropout_share: f64,
    /// Length of a dropout in seconds.
    #[arg(long, default_value_t = 300.0, value_name = "SECONDS")]
    dropout_secs: f64,
    /// Share of uploads, 0 to 1, sent with a wrong CRC or length.
    #[arg(long, default_value_t = 0.0, value_name = "SHARE")]
    malformed_share: f64,
    /// Time to wait for a 9014 acknowledgement, in seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    ack_timeout: f64,
    /// Time a TCP connect may take, in seconds.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    connect_timeout: f64,
    /// Seconds between progress reports; 0 reports only at the end.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    report_interval: f64,
    /// Random seed; the same seed sends the same values.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print reports as JSON, one object per line.
    #[arg(long)]
    json: bool,
    /// Write the simulated points as a point import CSV to FILE and exit. Default: run the
    /// simulation.
    #[arg(long, value_name = "FILE", requires = "area")]
    write_points: Option<PathBuf>,
    /// The area code the points are registered in; required with --write-points.
    #[arg(long, value_name = "CODE")]
    area: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ProfileArg {
    /// Wastewater outlet, ST 32.
    Wastewater,
    /// Air pollution source (stack), ST 31.
    AirSource,
    /// Ambient air quality station, ST 22.
    AmbientAir,
    /// Noise (acoustic environment) station, ST 23.
    Noise,
}

impl From<ProfileArg> for Profile {
    fn from(profile: ProfileArg) -> Self {
        match profile {
            ProfileArg::Wastewater => Self::Wastewater,
            ProfileArg::AirSource => Self::AirSource,
            ProfileArg::AmbientAir => Self::AmbientAir,
            ProfileArg::Noise => Self::Noise,
        }
    }
}

pub(crate) async fn run(cli: &Cli, command: &SimulateCommand) -> anyhow::Result<ExitCode> {
    let SimulateCommand::Hj212(args) = command;
    let log = cli.settings(&cli.overrides(None))?.log;
    oversight_server::telemetry::init_logging(&log)?;
    let config = args.config()?;
    if let Some(path) = &args.write_points {
        write_points(&config, args.area.as_deref().unwrap_or_default(), path)?;
        return Ok(ExitCode::SUCCESS);
    }

    let cancel = CancellationToken::new();
    let token = cancel.clone();
    tokio::spawn(async move {
        oversight_server::runtime::shutdown_signal().await;
        token.cancel();
    });
    let json = args.json;
    let report = oversight_simulate::run(&config, cancel, |report| print_report(report, json))
        .await
        .context("simulation failed")?;
    print_report(&report, json);
    Ok(ExitCode::SUCCESS)
}

impl Hj212Args {
    fn config(&self) -> anyhow::Result<SimulateConfig> {
        let devices = match &self.devices {
            Some(path) => read_devices(path)?,
            None => Vec::new(),
        };
        let config = SimulateConfig {
            target: self.target.clone(),
            connections: self.connections,
            rate: self.rate,
            max_in_flight: self.max_in_flight,
            duration_secs: self.duration,
            profile: self.profile.into(),
            devices,
            first_index: self.first_index,
            password: self.password.clone(),
            aggregates: self.aggregates,
            minute_interval_mins: self.minute_interval,
            exceedance_share: self.exceedance_share,
            flatline_share: self.flatline_share,
            dropout_share: self.dropout_share,
            dropout_secs: self.dropout_secs,
            malformed_share: self.malformed_share,
            ack_timeout_secs: self.ack_timeout,
            connect_timeout_secs: self.connect_timeout,
            report_interval_secs: self.report_interval,
            seed: self.seed,
        };
        config.validate().context("invalid simulator option")?;
        Ok(config)
    }
}

/// Reads the `mn` and `password` columns of a CSV file.
fn read_devices(path: &PathBuf) -> anyhow::Result<Vec<DeviceIdentity>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("cannot read devices file {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|header| header == name)
            .with_context(|| {
                format!(
                    "devices file {} has no {name} column; give mn and password columns",
                    path.display()
                )
            })
    };
    let (mn, password) = (column("mn")?, column("password")?);
    let mut devices = Vec::new();
    for record in reader.records() {
        let record =
            record.with_context(|| format!("cannot read devices file {}", path.display()))?;
        devices.push(DeviceIdentity {
            mn: record.get(mn).unwrap_or_default().to_owned(),
            password: record.get(password).unwrap_or_default().to_owned(),
        });
    }
    Ok(devices)
}

fn write_points(config: &SimulateConfig, area: &str, path: &PathBuf) -> anyhow::Result<()> {
    let area = AreaCode::parse(area).context("invalid --area")?;
    let points = oversight_simulate::points(config, &area)?;
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    oversight_simulate::write_points_csv(&points, file)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "wrote {} points to {}",
        points.len(),
        path.display()
    )?;
    Ok(())
}

fn print_report(report: &Report, json: bool) {
    let line = if json {
        serde_json::to_string(report).unwrap_or_else(|error| format!("{{\"error\":\"{error}\"}}"))
    } else {
        report.to_string()
    };
    let mut stdout = std::io::stdout().lock();
    // A closed standard output only loses the progress line.
    let _ = writeln!(stdout, "{line}");
}
