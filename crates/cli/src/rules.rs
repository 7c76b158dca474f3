//! `oversight rules`: check rule packs, and replay readings through them.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use jiff::Timestamp;
use oversight_core::{
    AreaCode, DataFlag, DataKind, FactorCode, FactorLimit, FactorValues, Mn, MonitoringPoint,
    Reading, Secret, SystemCode,
};
use oversight_rules::pack::load_dir;
use oversight_rules::{
    Backtest, BacktestAlert, EngineConfig, PackError, RuleErrors, RuleSet, RulesError,
    load_rule_set,
};
use oversight_server::config::{ConfigOverrides, Settings};
use oversight_store::{PointQuery, ReadingQuery, SortOrder, Store};
use serde::Serialize;

use crate::Cli;

#[derive(Debug, Subcommand)]
pub(crate) enum RulesCommand {
    /// Check the rule packs (*.toml) under a directory, or one pack file, without running
    /// them.
    ///
    /// Every problem is printed as FILE:LINE:COLUMN: rule ID: what is wrong and how to fix
    /// it. Exit status: 0 when every pack is valid, 1 otherwise.
    Check(CheckArgs),
    /// Replay stored readings, or readings from a CSV file, through rule packs and print
    /// the alerts that would have fired, when and why. Nothing is written.
    ///
    /// Missing-data and offline rules are not replayed, because they run on the server's
    /// clock rather than on readings.
    Test(TestArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Directory of rule packs, every *.toml file below it checked, or one pack file.
    #[arg(value_name = "PATH")]
    dir: PathBuf,
}

#[derive(Debug, Args)]
#[group(id = "readings", required = true, multiple = false)]
struct ReadingSource {
    /// Data directory of a server whose stored readings and points are replayed. This or
    /// --csv is required.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// CSV file of readings with a header and the columns mn,factor,time,value,area and
    /// optionally flag,upper,lower,st. time is RFC 3339 with offset; upper and lower are
    /// the point's limits for the factor; st is the HJ 212 system code (default 32). This or
    /// --data-dir is required.
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    /// Directory of the rule packs to test, which run alone and as written. Default: the
    /// rules a server with this configuration runs, the built-in packs and the packs of
    /// rules.dir, with the switches of the API stored in --data-dir, or with --csv in the
    /// data_dir of the configuration.
    #[arg(long = "pack", value_name = "DIR")]
    pack: Option<PathBuf>,
    #[command(flatten)]
    source: ReadingSource,
    /// Replay only readings whose data time is at or after this RFC 3339 time, such as
    /// 2026-03-01T00:00:00+08:00. Default: from the earliest reading.
    #[arg(long, value_name = "TIME")]
    from: Option<Timestamp>,
    /// Replay only readings whose data time is before this RFC 3339 time. Default: up to the
    /// latest reading.
    #[arg(long, value_name = "TIME")]
    to: Option<Timestamp>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(cli: &Cli, command: &RulesCommand) -> anyhow::Result<ExitCode> {
    match command {
        RulesCommand::Check(args) => check(&args.dir),
        RulesCommand::Test(args) => test(cli, args).await,
    }
}

fn check(dir: &Path) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    match load_dir(dir) {
        Ok(packs) => {
            let rules: usize = packs.iter().map(|pack| pack.rules.len()).sum();
            writeln!(
                stdout,
                "ok: {} packs with {rules} rules in {}",
                packs.len(),
                dir.display()
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            print_pack_errors(&errors)?;
            Ok(ExitCode::FAILURE)
        }
    }
}

fn print_pack_errors(errors: &[PackError]) -> anyhow::Result<()> {
    let mut stderr = std::io::stderr().lock();
    for error in errors {
        writeln!(stderr, "{error}")?;
    }
    writeln!(stderr, "{} problems found", errors.len())?;
    Ok(())
}

/// The report of `rules test`: the readings replayed and the alerts they fired.
#[derive(Debug, Serialize)]
struct TestReport {
    readings: u64,
    alerts: Vec<BacktestAlert>,
    errors: BTreeMap<String, RuleErrors>,
}

async fn test(cli: &Cli, args: &TestArgs) -> anyhow::Result<ExitCode> {
    if let (Some(from), Some(to)) = (args.from, args.to)
        && from >= to
    {
        bail!("invalid --from {from}: must be before --to {to}");
    }
    let store = match &args.source.data_dir {
        Some(data_dir) => Some(open_data_dir(cli, data_dir).await?),
        None => None,
    };
    let (rules, switches) = match &args.pack {
        Some(dir) => match load_dir(dir) {
            Ok(packs) => (RuleSet::build(Vec::new(), packs)?, BTreeMap::new()),
            Err(errors) => {
                print_pack_errors(&errors)?;
                return Ok(ExitCode::FAILURE);
            }
        },
        None => active_rules(cli, args, store.as_deref()).await?,
    };
    let mut run = Backtest::new(Arc::new(rules), EngineConfig::default());
    run.set_switches(switches);
    let readings = match (&store, &args.source.csv) {
        (Some(store), _) => replay_store(store.as_ref(), args, &mut run).await?,
        (None, Some(csv)) => replay_csv(csv, args, &mut run)?,
        (None, None) => bail!("give the readings with --data-dir DIR or --csv FILE"),
    };
    let report = TestReport {
        readings,
        errors: run.errors().clone(),
        alerts: run.finish(),
    };
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &report)?;
        writeln!(stdout)?;
    } else {
        print_table(&mut stdout, &report)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Opens the store of a server's data directory, which must exist.
async fn open_data_dir(cli: &Cli, data_dir: &Path) -> anyhow::Result<Arc<dyn Store>> {
    let database = data_dir.join(oversight_store_sqlite::DATABASE_FILE_NAME);
    if !database.exists() {
        bail!(
            "no database {} found; give the --data-dir of a server",
            database.display()
        );
    }
    let overrides = ConfigOverrides {
        data_dir: Some(data_dir.to_owned()),
        ..cli.overrides(None)
    };
    let settings = cli.settings(&overrides)?;
    crate::import::open_store(&settings).await
}

/// Returns the rules a server with the configuration of `cli` runs, and the
/// switches stored in `store`, or without one in the configured data
/// directory, which `serve` with this configuration applies.
async fn active_rules(
    cli: &Cli,
    args: &TestArgs,
    store: Option<&dyn Store>,
) -> anyhow::Result<(RuleSet, BTreeMap<String, bool>)> {
    let overrides = ConfigOverrides {
        data_dir: args.source.data_dir.clone(),
        ..cli.overrides(None)
    };
    let settings = cli.settings(&overrides)?;
    let rules = load_rule_set(&settings.rules).map_err(|error| match error {
        RulesError::Packs(errors) => anyhow::anyhow!(
            "the packs of rules.dir are invalid:\n{}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
        other => anyhow::Error::new(other),
    })?;
    let switches = match store {
        Some(store) => stored_switches(store).await?,
        None => configured_switches(&settings).await?,
    };
    Ok((rules, switches))
}

async fn stored_switches(store: &dyn Store) -> anyhow::Result<BTreeMap<String, bool>> {
    Ok(store
        .rule_switches()
        .await
        .context("cannot read the rule switches")?
        .into_iter()
        .collect())
}

/// Returns the switches stored in the data directory of `settings`, and
/// writes to standard error which switches apply, so that a replay of a
/// CSV file shows whether it runs the rules as `serve` does.
async fn configured_switches(settings: &Settings) -> anyhow::Result<BTreeMap<String, bool>> {
    let database = settings
        .data_dir
        .join(oversight_store_sqlite::DATABASE_FILE_NAME);
    if !database.exists() {
        writeln!(
            std::io::stderr(),
            "no database {} found, so no rule switches apply: every rule runs as its pack \
             sets `enabled`; set data_dir in the configuration or OVERSIGHT_DATA_DIR to apply \
             the switches of a server",
            database.display()
        )?;
        return Ok(BTreeMap::new());
    }
    let store = crate::import::open_store(settings).await?;
    let switches = stored_switches(store.as_ref()).await?;
    let listed = switches
        .iter()
        .map(|(rule, enabled)| {
            let state = if *enabled { "enabled" } else { "disabled" };
            format!("{rule} {state}")
        })
        .collect::<Vec<_>>();
    let listed = if listed.is_empty() {
        "none".to_owned()
    } else {
        listed.join(", ")
    };
    writeln!(
        std::io::stderr(),
        "rule switches stored in {}: {listed}",
        database.display()
    )?;
    Ok(switches)
}

/// Replays every point's stored readings in data-time order; returns how many.
async fn replay_store(
    store: &dyn Store,
    args: &TestArgs,
    run: &mut Backtest,
) -> anyhow::Result<u64> {
    let mut readings = 0;
    for point in all_points(store).await? {
        let mut query = ReadingQuery {
            mn: point.mn.clone(),
            factor: None,
            kind: None,
            from: args.from,
            to: args.to,
            order: SortOrder::Ascending,
            limit: 10_000,
            cursor: None,
        };
        loop {
            let page = store
                .readings(&query)
                .await
                .with_context(|| format!("cannot read the readings of {}", point.mn))?;
            readings += page.items.len() as u64;
            run.feed(&point, &page.items);
            match page.next_cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => break,
            }
        }
    }
    Ok(readings)
}

async fn all_points(store: &dyn Store) -> anyhow::Result<Vec<MonitoringPoint>> {
    let mut points = Vec::new();
    let mut query = PointQuery {
        limit: 1000,
        ..PointQuery::default()
    };
    loop {
        let page = store
            .points(&query)
            .await
            .context("cannot list the points")?;
        points.extend(page.items);
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => return Ok(points),
        }
    }
}

/// The columns of a readings CSV file.
#[derive(Debug, serde::Deserialize)]
struct CsvRow {
    mn: String,
    factor: String,
    time: String,
    value: String,
    #[serde(default)]
    flag: Option<String>,
    #[serde(default)]
    upper: Option<String>,
    #[serde(default)]
    lower: Option<String>,
    area: String,
    #[serde(default)]
    st: Option<String>,
}

/// Replays a CSV file of readings. Rows are sorted by data time per point
/// first, as stored readings are. Any invalid row stops the run, naming
/// its line, column and value.
fn replay_csv(path: &Path, args: &TestArgs, run: &mut Backtest) -> anyhow::Result<u64> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut points: BTreeMap<Mn, MonitoringPoint> = BTreeMap::new();
    let mut readings: BTreeMap<Mn, Vec<Reading>> = BTreeMap::new();
    for (index, row) in reader.deserialize::<CsvRow>().enumerate() {
        // Line 1 is the header.
        let line = index + 2;
        let row = row.with_context(|| format!("{}:{line}: invalid row", path.display()))?;
        let reading = parse_csv_row(&row, &mut points)
            .with_context(|| format!("{}:{line}: invalid row", path.display()))?;
        let in_range = args.from.is_none_or(|from| reading.data_time >= from)
            && args.to.is_none_or(|to| reading.data_time < to);
        if in_range {
            readings
                .entry(reading.mn.clone())
                .or_default()
                .push(reading);
        }
    }
    let mut count = 0;
    for (mn, mut point_readings) in readings {
        point_readings.sort_by_key(|reading| reading.data_time);
        count += point_readings.len() as u64;
        let point = points
            .get(&mn)
            .expect("every reading's point was registered with it");
        run.feed(point, &point_readings);
    }
    Ok(count)
}

fn parse_csv_row(
    row: &CsvRow,
    points: &mut BTreeMap<Mn, MonitoringPoint>,
) -> anyhow::Result<Reading> {
    let mn = Mn::parse(&row.mn).map_err(|error| anyhow::anyhow!("column mn: {error}"))?;
    let factor = FactorCode::parse(&row.factor)
        .map_err(|error| anyhow::anyhow!("column factor: {error}"))?;
    let data_time: Timestamp = row.time.parse().map_err(|_| {
        anyhow::anyhow!(
            "column time: invalid time {:?}: expected RFC 3339 with offset, such as \
             2026-03-01T08:00:00+08:00",
            row.time
        )
    })?;
    let value = parse_number("value", &row.value)?;

    let flag = match row.flag.as_deref().filter(|flag| !flag.is_empty()) {
        Some(flag) => {
            Some(DataFlag::parse(flag).map_err(|error| anyhow::anyhow!("column flag: {error}"))?)
        }
        None => None,
    };
    let upper = optional_number("upper", row.upper.as_deref())?;
    let lower = optional_number("lower", row.lower.as_deref())?;
    let area =
        AreaCode::parse(&row.area).map_err(|error| anyhow::anyhow!("column area: {error}"))?;
    let system_code = match row.st.as_deref().filter(|st| !st.is_empty()) {
        Some(st) => SystemCode::parse(st).map_err(|error| anyhow::anyhow!("column st: {error}"))?,
        None => SystemCode::parse("32").expect("32 is a valid system code"),
    };

    let point = points.entry(mn.clone()).or_insert_with(|| MonitoringPoint {
        mn: mn.clone(),
        name: mn.to_string(),
        area,
        system_code,
        password: Secret::new(String::new()),
        previous_password: None,
        location: None,
        limits: Vec::new(),
        interval_secs: MonitoringPoint::DEFAULT_INTERVAL_SECS,
        attributes: BTreeMap::new(),
    });
    if (upper.is_some() || lower.is_some()) && point.limit(&factor).is_none() {
        point.limits.push(FactorLimit {
            factor: factor.clone(),
            upper,
            lower,
            unit: None,
        });
    }

    Ok(Reading {
        mn,
        kind: DataKind::Realtime,
        factor,
        data_time,
        received_at: data_time,
        values: FactorValues {
            rtd: Some(value),
            ..FactorValues::default()
        },
        flag,
    })
}

fn parse_number(column: &str, text: &str) -> anyhow::Result<f64> {
    match text.parse::<f64>() {
        Ok(number) if number.is_finite() => Ok(number),
        _ => bail!("column {column}: invalid number {text:?}: expected a finite decimal number"),
    }
}

fn optional_number(column: &str, text: Option<&str>) -> anyhow::Result<Option<f64>> {
    text.filter(|text| !text.is_empty())
        .map(|text| parse_number(column, text))
        .transpose()
}

fn print_table(out: &mut impl Write, report: &TestReport) -> anyhow::Result<()> {
    writeln!(
        out,
        "{} readings replayed, {} alerts would have fired",
        report.readings,
        report.alerts.len()
    )?;
    if !report.alerts.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "{:<24} {:<16} {:<8} {:<8} {:<25} {:<25} {:<25} {:>10}  WHY",
            "RULE", "MN", "FACTOR", "SEVERITY", "FIRST MET", "FIRED", "RESOLVED", "PEAK"
        )?;
    }
    for alert in &report.alerts {
        let time = |time: Option<Timestamp>| time.map_or_else(|| "-".to_owned(), |t| t.to_string());
        writeln!(
            out,
            "{:<24} {:<16} {:<8} {:<8} {:<25} {:<25} {:<25} {:>10}  {}",
            alert.rule_id,
            alert.mn.to_string(),
            alert
                .factor
                .as_ref()
                .map_or_else(|| "-".to_owned(), ToString::to_string),
            alert.severity.as_str(),
            alert.first_at.to_string(),
            time(alert.fired_at),
            time(alert.resolved_at),
            alert
                .peak
                .map_or_else(|| "-".to_owned(), |peak| format!("{peak}")),
            why(alert),
        )?;
    }
    for (rule, errors) in &report.errors {
        writeln!(
            out,
            "rule {rule} failed {} times, last on {}: {}",
            errors.count, errors.last_mn, errors.last_message
        )?;
    }
    Ok(())
}

/// Returns the condition that fired the alert with the values it saw.
fn why(alert: &BacktestAlert) -> String {
    let Some(explanation) = &alert.explanation else {
        return String::new();
    };
    let values = explanation
        .values
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut text = format!("{} with {values}", explanation.condition);
    if let Some(window) = &explanation.window {
        text.push_str(&format!(
            "; {} over {} of {} readings from {} to {}",
            window.aggregate, window.size, window.count, window.from, window.to
        ));
    }
    if let Some(resolution) = &alert.resolution {
        text.push_str(&format!("; resolved: {resolution}"));
    }
    text
}
