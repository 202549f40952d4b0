//! `estate-server checks test` (every check's fixtures and the coverage rule) and
//! `estate-server checks list` (the checks a profile runs).

use std::io::Write;
use std::path::PathBuf;

use super::render::{Table, num};
use super::{CliError, Verdict, assess_config, assessor, server_config};
use crate::checks::{Catalogue, FixtureReport};

/// `estate-server checks`.
#[derive(Debug, clap::Args)]
pub struct ChecksArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: ChecksAction,
}

/// `estate-server checks ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ChecksAction {
    /// Run every check's fixtures and require each check to have a passing and a failing
    /// fixture (and a not-applicable one when it has `applies`). Prints the failures,
    /// the missing fixtures and a summary; exits 1 on any.
    Test(TestArgs),
    /// List the checks an audit profile runs: id, category, severity, weight, title.
    List(ListArgs),
}

/// `estate-server checks test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// The catalogue: a directory of check files (`config/checks`), or a config
    /// directory holding `checks/`. Default: the catalogue built into this binary.
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `estate-server checks list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// The collector's config file: its `[checks]` settings (config_dir, profile).
    /// Default: the built-in check config.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The audit profile (default: the config's `[checks] profile`, else baseline).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

/// Runs `estate-server checks ...`.
pub fn checks(args: &ChecksArgs, out: &mut dyn Write) -> Result<Verdict, CliError> {
    match &args.action {
        ChecksAction::Test(a) => test(a, out),
        ChecksAction::List(a) => list(a, out),
    }
}

fn test(args: &TestArgs, out: &mut dyn Write) -> Result<Verdict, CliError> {
    let catalogue = match &args.dir {
        Some(dir) if dir.join("checks").is_dir() => Catalogue::load(&dir.join("checks"))?,
        Some(dir) => Catalogue::load(dir)?,
        None => Catalogue::parse(crate::assess::embedded::CHECKS)?,
    };
    let report = FixtureReport::run(&catalogue);
    writeln!(out, "{report}")?;
    Ok(if report.ok() {
        Verdict::Ok
    } else {
        Verdict::Failed
    })
}

fn list(args: &ListArgs, out: &mut dyn Write) -> Result<Verdict, CliError> {
    let config = server_config(args.config.as_deref())?;
    let assessor = assessor(&assess_config(&config, args.profile.as_deref()))?;
    let plan = assessor.plan();
    let mut table = Table::new(&["ID", "CATEGORY", "SEVERITY", "WEIGHT", "TITLE"]);
    for planned in plan.checks() {
        let check = planned.check;
        table.row(vec![
            check.id.to_string(),
            check.category.as_str().to_owned(),
            check.severity.as_str().to_owned(),
            num(Some(planned.weight), 1),
            check.title.clone(),
        ]);
    }
    table.write(out)?;
    writeln!(
        out,
        "profile {}: {} of {} checks",
        plan.profile(),
        plan.len(),
        assessor.checks().catalogue.len()
    )?;
    Ok(Verdict::Ok)
}
