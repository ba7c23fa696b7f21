//! The command line: every command, flag and setting, with an example in
//! each `--help`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use lifeboat::domain::identifier;
use lifeboat::domain::model::DatabaseKind;
use lifeboat::lambda::config::{self, is_region_name};

const ABOUT: &str = "Disaster recovery for Amazon RDS and Aurora, from the operator's side: \
the recovery points of every protected DB, its snapshots, a snapshot now, a restore \
into any region, watched until it is available.";

const LONG_ABOUT: &str = "Disaster recovery for Amazon RDS and Aurora, from the operator's side.

Each command does what the Lifeboat function of the same job does, in the region it \
names, with your own AWS credentials (the standard chain: environment, --profile, \
IAM Identity Center, instance role); AWS_ENDPOINT_URL points it at an emulator. \
Settings are the stack's LIFEBOAT_* variables, from the environment or the flags below. \
A command that names a DR region (--region) acts as that region's recovery stack would: \
its own catalog bucket, its own endpoints, nothing from the source region.

Exit codes: 0 done, 1 failed or refused, 2 usage error, 130 stopped watching (Ctrl-C; \
the restore goes on).";

const EXAMPLES: &str = "Examples:
  lifeboat status
  lifeboat status --region us-west-2
  lifeboat snapshots orders
  lifeboat snapshot orders ledger --reason \"before the schema migration\"
  lifeboat restore orders --region us-west-2 --target orders-dr --dry-run
  lifeboat restore orders --region us-west-2 --target orders-dr --yes --wait
  lifeboat restore-status --region us-west-2 --target orders-dr --wait
  lifeboat drill orders --region us-west-2 --wait
  lifeboat drills --region us-west-2
  lifeboat completions bash > /etc/bash_completion.d/lifeboat";

#[derive(Debug, Parser)]
#[command(
    name = "lifeboat",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXAMPLES,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The region to work in (repeat it for status and snapshots). A DR
    /// region is worked in as its recovery stack would.
    #[arg(long, global = true, value_name = "REGION", value_parser = region_name)]
    pub region: Vec<String>,

    /// The AWS profile whose credentials (and region) to use.
    #[arg(long, global = true, env = "AWS_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,

    /// `text` for a person, `json` for a script: one JSON document on
    /// standard output, whatever happens.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text, value_name = "FORMAT")]
    pub output: Format,

    /// Show what the functions log, on standard error.
    #[arg(long, short, global = true)]
    pub verbose: bool,

    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// The stack's settings, as its functions read them: each flag, else its
/// environment variable. The rest of the `LIFEBOAT_*` settings are read
/// from the environment as they are.
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Settings (the stack's LIFEBOAT_* variables)")]
pub struct Settings {
    /// The catalog bucket of the stack in the stack's region (its
    /// CatalogBucketName output).
    #[arg(long, global = true, env = config::CATALOG_BUCKET, value_name = "BUCKET")]
    pub catalog_bucket: Option<String>,

    /// The key prefix in the catalog buckets.
    #[arg(long, global = true, env = config::CATALOG_PREFIX, value_name = "PREFIX")]
    pub catalog_prefix: Option<String>,

    /// The DR regions, comma-separated.
    #[arg(long, global = true, env = config::DR_REGIONS, value_name = "REGION,...")]
    pub dr_regions: Option<String>,

    /// The catalog bucket of each DR region (its recovery stack's).
    #[arg(long, global = true, env = config::DR_CATALOG_BUCKETS, value_name = "REGION=BUCKET,...")]
    pub dr_catalog_buckets: Option<String>,

    /// The retention policy, e.g. last=3,daily=7,weekly=4,monthly=12.
    #[arg(long, global = true, env = config::RETENTION, value_name = "POLICY")]
    pub retention: Option<String>,

    /// The retention policy in the DR regions, if not the same.
    #[arg(long, global = true, env = config::DR_RETENTION, value_name = "POLICY")]
    pub dr_retention: Option<String>,

    /// The tag that selects a DB for snapshots.
    #[arg(long, global = true, env = config::SELECT_TAG, value_name = "KEY=VALUE")]
    pub select_tag: Option<String>,

    /// The EventBridge bus for Lifeboat's events.
    #[arg(long, global = true, env = config::EVENT_BUS, value_name = "BUS")]
    pub event_bus: Option<String>,

    /// The recovery point objective in the stack's region, in seconds
    /// (default 26 hours).
    #[arg(long, global = true, env = config::RPO_SECONDS, value_name = "SECONDS")]
    pub rpo_seconds: Option<String>,

    /// The recovery point objective in the DR regions, in seconds.
    #[arg(long, global = true, env = config::DR_RPO_SECONDS, value_name = "SECONDS")]
    pub dr_rpo_seconds: Option<String>,

    /// Whose settings these are: the primary stack's (in the DBs' region)
    /// or a recovery stack's (in a DR region).
    #[arg(long, global = true, env = config::STACK_ROLE, value_name = "ROLE", value_parser = ["primary", "recovery"])]
    pub stack_role: Option<String>,

    /// The longest a DB may go without a passing drill, in seconds; status
    /// shows the last drill where it is set.
    #[arg(long, global = true, env = config::DRILL_MAX_AGE_SECONDS, value_name = "SECONDS")]
    pub drill_max_age_seconds: Option<String>,
}

impl Settings {
    /// Each flag's setting and value, given or from the environment.
    pub fn given(&self) -> [(&'static str, Option<&str>); 12] {
        [
            (config::CATALOG_BUCKET, self.catalog_bucket.as_deref()),
            (config::CATALOG_PREFIX, self.catalog_prefix.as_deref()),
            (config::DR_REGIONS, self.dr_regions.as_deref()),
            (
                config::DR_CATALOG_BUCKETS,
                self.dr_catalog_buckets.as_deref(),
            ),
            (config::RETENTION, self.retention.as_deref()),
            (config::DR_RETENTION, self.dr_retention.as_deref()),
            (config::SELECT_TAG, self.select_tag.as_deref()),
            (config::EVENT_BUS, self.event_bus.as_deref()),
            (config::RPO_SECONDS, self.rpo_seconds.as_deref()),
            (config::DR_RPO_SECONDS, self.dr_rpo_seconds.as_deref()),
            (config::STACK_ROLE, self.stack_role.as_deref()),
            (
                config::DRILL_MAX_AGE_SECONDS,
                self.drill_max_age_seconds.as_deref(),
            ),
        ]
    }
}

/// The flag that gives a setting, for errors that name what fixes them.
pub fn flag_for(setting: &str) -> Option<&'static str> {
    Some(match setting {
        config::CATALOG_BUCKET => "--catalog-bucket",
        config::CATALOG_PREFIX => "--catalog-prefix",
        config::DR_REGIONS => "--dr-regions",
        config::DR_CATALOG_BUCKETS => "--dr-catalog-buckets",
        config::RETENTION => "--retention",
        config::DR_RETENTION => "--dr-retention",
        config::SELECT_TAG => "--select-tag",
        config::EVENT_BUS => "--event-bus",
        config::RPO_SECONDS => "--rpo-seconds",
        config::DR_RPO_SECONDS => "--dr-rpo-seconds",
        config::DRILL_MAX_AGE_SECONDS => "--drill-max-age-seconds",
        config::STACK_ROLE => "--stack-role",
        config::REGION => "--region",
        _ => return None,
    })
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The newest recovery point of every protected DB in each region,
    /// against the objective, and the last drill.
    #[command(after_help = "Examples:
  lifeboat status                          every region of the stack
  lifeboat status --region us-west-2       from the DR region alone (the source region may be down)
  lifeboat status --output json")]
    Status,

    /// Every Lifeboat snapshot of a DB: its recovery point, state, copies
    /// and what the retention policy keeps it for.
    #[command(after_help = "Examples:
  lifeboat snapshots orders
  lifeboat snapshots orders --region us-west-2
  lifeboat snapshots ledger --retention last=3,daily=7 --output json")]
    Snapshots(SnapshotsArgs),

    /// Take snapshots of DB instances or Aurora clusters now.
    #[command(after_help = "Example:
  lifeboat snapshot orders ledger --reason \"before the schema migration\"")]
    Snapshot(SnapshotArgs),

    /// Restore a DB instance or Aurora cluster from a Lifeboat snapshot, as
    /// it was, into a new DB.
    #[command(
        after_help = "The plan is shown first: what will be created, from which snapshot, \
how old its data is, and what the region lacks (with the flag that gives it). Nothing is \
created without a yes (or --yes). Ctrl-C while waiting stops the watching, never the restore.

Examples:
  lifeboat restore orders --region us-west-2 --target orders-dr --dry-run
  lifeboat restore orders --region us-west-2 --target orders-dr \\
      --subnet-group dr-subnets --security-group sg-0abc --yes --wait
  lifeboat restore ledger --region us-west-2 --target ledger-dr \\
      --snapshot lifeboat-ledger-20261124-0400 --instance-class db.r6g.large"
    )]
    Restore(Box<RestoreArgs>),

    /// The progress of a restore and, once it is available, the recovery
    /// time achieved.
    #[command(after_help = "Examples:
  lifeboat restore-status --region us-west-2 --target orders-dr
  lifeboat restore-status --region us-west-2 --target orders-dr --wait")]
    RestoreStatus(RestoreStatusArgs),

    /// Drill the recovery of a DB in a DR region: restore its newest copy
    /// there, verify it, delete it, record the recovery time and point.
    #[command(
        after_help = "With --wait the drill runs here, step by step as the drill state machine \
runs it, and ends with its verdict, the recovery time achieved and the data's age; Ctrl-C \
stops it early: the drill DB is deleted and the drill recorded as failed. Without --wait the \
drill is handed to the region's drill state machine (--drill-state-machine, the recovery \
stack's DrillStateMachineArn output).

Examples:
  lifeboat drill orders --region us-west-2 --wait
  lifeboat drill orders --region us-west-2 --instance-class db.t4g.medium --wait
  lifeboat drill orders ledger --region us-west-2 \\
      --drill-state-machine arn:aws:states:us-west-2:123456789012:stateMachine:DrillStateMachine-x"
    )]
    Drill(DrillArgs),

    /// The drills recorded in each region: verdict, recovery time, the
    /// data's age, and each failed check.
    #[command(after_help = "Examples:
  lifeboat drills --region us-west-2
  lifeboat drills orders --region us-west-2 --last 10 --output json")]
    Drills(DrillsArgs),

    /// A script that completes lifeboat's commands and flags in a shell.
    #[command(after_help = "Examples:
  lifeboat completions bash > ~/.local/share/bash-completion/completions/lifeboat
  lifeboat completions zsh > \"${fpath[1]}/_lifeboat\"
  lifeboat completions fish > ~/.config/fish/completions/lifeboat.fish")]
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct SnapshotsArgs {
    /// The DB instance or DB cluster.
    #[arg(value_name = "DB", value_parser = database)]
    pub database: String,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// The DB instances or DB clusters to snapshot.
    #[arg(value_name = "DB", required = true, value_parser = database)]
    pub databases: Vec<String>,

    /// Why: recorded with each snapshot.
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The DB instance or DB cluster to bring back.
    #[arg(value_name = "DB", value_parser = database)]
    pub database: String,

    /// The identifier of the new DB; it must not exist.
    #[arg(long, value_name = "DB", value_parser = target)]
    pub target: String,

    /// `latest`, or a snapshot identifier or ARN in the region.
    #[arg(long, value_name = "ID", default_value = "latest", value_parser = snapshot)]
    pub snapshot: String,

    /// Which DB of that name, when the region holds snapshots of DBs of
    /// more than one region: the region it lived in.
    #[arg(long, value_name = "REGION", value_parser = region_name)]
    pub source_region: Option<String>,

    /// Which DB of that name, when an instance and a cluster share it.
    #[arg(long, value_enum, value_name = "KIND")]
    pub database_kind: Option<Kind>,

    /// Show the plan, create nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Restore without asking.
    #[arg(long, short)]
    pub yes: bool,

    /// Watch the restore until the DB is available.
    #[arg(long)]
    pub wait: bool,

    /// Seconds between two looks at the restore while waiting.
    #[arg(long, value_name = "SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub poll_seconds: u64,

    #[command(flatten)]
    pub overrides: OverrideArgs,
}

/// What the person restoring may change; anything not given is as the
/// snapshot's record captured it.
#[derive(Debug, Default, Clone, Args)]
#[command(next_help_heading = "What to change (anything not given is as it was)")]
pub struct OverrideArgs {
    /// The DB instance class (of the instance, or of every cluster member).
    #[arg(long, value_name = "CLASS")]
    pub instance_class: Option<String>,

    /// The DB subnet group in the region restored into.
    #[arg(long, value_name = "NAME")]
    pub subnet_group: Option<String>,

    /// A VPC security group ID in the region restored into; repeat for more.
    #[arg(long, value_name = "SG")]
    pub security_group: Vec<String>,

    /// Multi-AZ (true or false).
    #[arg(long, value_name = "BOOL")]
    pub multi_az: Option<bool>,

    /// The DB parameter group (instances and cluster members).
    #[arg(long, value_name = "NAME")]
    pub parameter_group: Option<String>,

    /// The DB cluster parameter group.
    #[arg(long, value_name = "NAME")]
    pub cluster_parameter_group: Option<String>,

    /// The option group.
    #[arg(long, value_name = "NAME")]
    pub option_group: Option<String>,

    /// The port the DB listens on.
    #[arg(long, value_name = "PORT")]
    pub port: Option<i32>,

    /// The Availability Zone (a DB instance that is not Multi-AZ).
    #[arg(long, value_name = "AZ")]
    pub availability_zone: Option<String>,

    /// The storage type (gp3, io2, ...).
    #[arg(long, value_name = "TYPE")]
    pub storage_type: Option<String>,

    /// The provisioned IOPS.
    #[arg(long, value_name = "IOPS")]
    pub iops: Option<i32>,

    /// Deletion protection (true or false).
    #[arg(long, value_name = "BOOL")]
    pub deletion_protection: Option<bool>,

    /// IAM database authentication (true or false).
    #[arg(long, value_name = "BOOL")]
    pub iam_database_authentication: Option<bool>,

    /// Keep the selection tag, so that the snapshot schedule protects the
    /// restored DB from now on (for a DB that is production from now on).
    #[arg(long)]
    pub keep_selection_tag: bool,
}

/// The override field a restore's report names, and the flag that gives it.
pub const OVERRIDE_FLAGS: &[(&str, &str)] = &[
    ("instance_class", "--instance-class"),
    ("subnet_group", "--subnet-group"),
    ("security_group_ids", "--security-group"),
    ("multi_az", "--multi-az"),
    ("parameter_group", "--parameter-group"),
    ("cluster_parameter_group", "--cluster-parameter-group"),
    ("option_group", "--option-group"),
    ("port", "--port"),
    ("availability_zone", "--availability-zone"),
    ("storage_type", "--storage-type"),
    ("iops", "--iops"),
    ("deletion_protection", "--deletion-protection"),
    (
        "iam_database_authentication",
        "--iam-database-authentication",
    ),
    ("keep_selection_tag", "--keep-selection-tag"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    Instance,
    Cluster,
}

impl From<Kind> for DatabaseKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Instance => DatabaseKind::Instance,
            Kind::Cluster => DatabaseKind::Cluster,
        }
    }
}

#[derive(Debug, Args)]
pub struct RestoreStatusArgs {
    /// The restored DB.
    #[arg(long, value_name = "DB", value_parser = target)]
    pub target: String,

    /// Watch until the DB is available.
    #[arg(long)]
    pub wait: bool,

    /// Seconds between two looks at the restore while waiting.
    #[arg(long, value_name = "SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub poll_seconds: u64,
}

#[derive(Debug, Args)]
pub struct DrillArgs {
    /// The source DB instances or DB clusters to drill (each needs a
    /// Lifeboat copy in the region).
    #[arg(value_name = "DB", required = true, value_parser = database)]
    pub databases: Vec<String>,

    /// Run the drill here and watch it to its verdict.
    #[arg(long)]
    pub wait: bool,

    /// Seconds between two looks at the drill DB while waiting.
    #[arg(long, value_name = "SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub poll_seconds: u64,

    /// The region's drill state machine, which carries a drill started
    /// without --wait (the recovery stack's DrillStateMachineArn output).
    #[arg(long, env = "LIFEBOAT_DRILL_STATE_MACHINE", value_name = "ARN")]
    pub drill_state_machine: Option<String>,

    /// The DB subnet group of the drill DB (else the stack's
    /// LIFEBOAT_DRILL_SUBNET_GROUP, else the captured one).
    #[arg(long, value_name = "NAME")]
    pub subnet_group: Option<String>,

    /// A VPC security group of the drill DB; repeat for more (else the
    /// stack's LIFEBOAT_DRILL_SECURITY_GROUPS, else the VPC's default).
    #[arg(long, value_name = "SG")]
    pub security_group: Vec<String>,

    /// A cheaper class for the drill DB and each cluster member (else the
    /// stack's LIFEBOAT_DRILL_INSTANCE_CLASS, else the captured class).
    #[arg(long, value_name = "CLASS")]
    pub instance_class: Option<String>,

    /// Your Lambda function that checks the drill DB's data (else the
    /// stack's LIFEBOAT_DRILL_VALIDATOR).
    #[arg(long, value_name = "FUNCTION")]
    pub validator: Option<String>,
}

#[derive(Debug, Args)]
pub struct DrillsArgs {
    /// Only these source DBs.
    #[arg(value_name = "DB", value_parser = database)]
    pub databases: Vec<String>,

    /// The newest drills of each DB to show.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub last: u64,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

fn region_name(value: &str) -> Result<String, String> {
    if is_region_name(value) {
        Ok(value.to_string())
    } else {
        Err(format!("{value:?} is not a region name (e.g. us-west-2)"))
    }
}

fn identifier_of(what: &str, value: &str) -> Result<String, String> {
    identifier::validate(what, value).map_err(|e| e.to_string())
}

fn database(value: &str) -> Result<String, String> {
    identifier_of("database", value)
}

fn target(value: &str) -> Result<String, String> {
    identifier_of("target", value)
}

/// `latest`, an identifier, or an ARN, which the restore itself checks.
fn snapshot(value: &str) -> Result<String, String> {
    if value == "latest" || value.starts_with("arn:") {
        Ok(value.to_string())
    } else {
        identifier_of("snapshot", value)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_settings_flag_is_named_in_errors() {
        let command = Cli::command();
        for (setting, _) in Settings::default().given() {
            let flag = flag_for(setting).unwrap();
            let arg = command
                .get_arguments()
                .find(|a| a.get_long().map(|l| format!("--{l}")).as_deref() == Some(flag))
                .unwrap_or_else(|| panic!("{flag} is not a flag"));
            assert_eq!(
                arg.get_env().and_then(|e| e.to_str()),
                Some(setting),
                "{flag}"
            );
        }
    }

    #[test]
    fn every_override_flag_exists() {
        let command = Cli::command();
        let restore = command.find_subcommand("restore").unwrap();
        for (_, flag) in OVERRIDE_FLAGS {
            assert!(
                restore
                    .get_arguments()
                    .any(|a| a.get_long().map(|l| format!("--{l}")).as_deref() == Some(*flag)),
                "{flag}"
            );
        }
    }

    #[test]
    fn every_command_has_an_example() {
        let command = Cli::command();
        for sub in command.get_subcommands() {
            let help = sub
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            assert!(
                help.contains("lifeboat "),
                "{} --help has no example",
                sub.get_name()
            );
        }
    }

    #[test]
    fn regions_and_identifiers_are_checked_as_they_are_typed() {
        let parse = |args: &[&str]| Cli::try_parse_from(args);
        let err = parse(&["lifeboat", "--region", "west", "status"]).unwrap_err();
        assert!(err.to_string().contains("not a region name"), "{err}");
        let err = parse(&["lifeboat", "snapshots", "orders_1"]).unwrap_err();
        assert!(
            err.to_string().contains("invalid database identifier"),
            "{err}"
        );
        let err = parse(&["lifeboat", "restore", "orders", "--target", "a--b"]).unwrap_err();
        assert!(
            err.to_string().contains("invalid target identifier"),
            "{err}"
        );
        let cli = parse(&[
            "lifeboat",
            "restore",
            "Orders",
            "--target",
            "orders-dr",
            "--region",
            "us-west-2",
            "--security-group",
            "sg-1",
            "--security-group",
            "sg-2",
            "--multi-az",
            "false",
        ])
        .unwrap();
        let Command::Restore(args) = cli.command else {
            panic!()
        };
        assert_eq!(args.database, "orders", "identifiers are lower-cased");
        assert_eq!(args.overrides.security_group, ["sg-1", "sg-2"]);
        assert_eq!(args.overrides.multi_az, Some(false));
        assert_eq!(args.snapshot, "latest");
        assert_eq!(cli.global.region, ["us-west-2"]);
    }

    #[test]
    fn global_flags_go_before_or_after_the_command() {
        let cli = Cli::try_parse_from([
            "lifeboat",
            "snapshots",
            "orders",
            "--output",
            "json",
            "--region",
            "us-east-1",
            "--region",
            "us-west-2",
        ])
        .unwrap();
        assert_eq!(cli.global.output, Format::Json);
        assert_eq!(cli.global.region, ["us-east-1", "us-west-2"]);
    }
}
