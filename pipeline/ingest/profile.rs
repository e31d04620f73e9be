//! Input profiles: how a file in a layout the pipeline did not define (SUS+/NCDR, SUS Unified,
//! HES, a GP system's export) maps onto one of its contracts.
//!
//! A profile is data, one TOML file per layout in `profiles/`, built into the binary and
//! citing its sources. It names the contract it feeds, the header columns that identify the
//! layout (its signature), and for each contract column the source column (with a code map or
//! a unit) or a constant. Rows the layout holds but the contract does not count (a cancelled
//! appointment, a maternity admission, a duplicate record) are excluded by a stated rule and
//! counted by reason in the quality report; a rule may recode a row from another column (an
//! appointment in a "Social Prescribing Service" slot is the link worker's, whatever the
//! clinician's recorded role), and a row may also add one (an A&E arrival by ambulance is
//! also an ambulance conveyance). The mapped row is then checked by the contract
//! exactly as a contract-shaped file is, so a layout adds no validation of its own.
//!
//! Code maps of NHS Data Dictionary values that several layouts share (admission method,
//! patient classification, attendance status, department type) live once in
//! `profiles/codes.toml`.
//!
//! To add a layout: write `profiles/<name>.toml` (copy the nearest one) and list it in
//! [`FILES`]; the unit tests check that every built-in profile parses and maps onto its
//! contract's columns and codes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use serde::Deserialize;

use super::contract::{Contract, Kind};
use super::contracts;
use super::fields::Problem;
use super::quarantine::Reason;
use crate::error::{Error, Location, Result};

/// The built-in profiles, by file name.
const FILES: [(&str, &str); 16] = [
    (
        "ncdr-apcs.toml",
        include_str!("../../profiles/ncdr-apcs.toml"),
    ),
    (
        "ncdr-apce.toml",
        include_str!("../../profiles/ncdr-apce.toml"),
    ),
    (
        "ncdr-opa.toml",
        include_str!("../../profiles/ncdr-opa.toml"),
    ),
    ("ncdr-ec.toml", include_str!("../../profiles/ncdr-ec.toml")),
    (
        "sus-unified-apc.toml",
        include_str!("../../profiles/sus-unified-apc.toml"),
    ),
    (
        "sus-unified-op.toml",
        include_str!("../../profiles/sus-unified-op.toml"),
    ),
    (
        "sus-unified-ec.toml",
        include_str!("../../profiles/sus-unified-ec.toml"),
    ),
    ("hes-apc.toml", include_str!("../../profiles/hes-apc.toml")),
    ("hes-op.toml", include_str!("../../profiles/hes-op.toml")),
    ("hes-ae.toml", include_str!("../../profiles/hes-ae.toml")),
    (
        "olids-appointments.toml",
        include_str!("../../profiles/olids-appointments.toml"),
    ),
    (
        "systmone-appointments.toml",
        include_str!("../../profiles/systmone-appointments.toml"),
    ),
    (
        "emis-appointments.toml",
        include_str!("../../profiles/emis-appointments.toml"),
    ),
    (
        "gp-coded-referrals.toml",
        include_str!("../../profiles/gp-coded-referrals.toml"),
    ),
    (
        "gp-coded-referrals-ctv3.toml",
        include_str!("../../profiles/gp-coded-referrals-ctv3.toml"),
    ),
    (
        "long-questionnaires.toml",
        include_str!("../../profiles/long-questionnaires.toml"),
    ),
];

/// Code maps shared by the profiles (NHS Data Dictionary values), by name.
const SHARED_CODES: &str = include_str!("../../profiles/codes.toml");

type CodeMap = BTreeMap<String, String>;

/// The shared code maps, keys normalised. The file is part of the binary and parsed by a
/// unit test (through every built-in profile), so this cannot fail at run time.
static SHARED: LazyLock<BTreeMap<String, CodeMap>> = LazyLock::new(|| {
    let maps: BTreeMap<String, CodeMap> =
        toml::from_str(SHARED_CODES).expect("profiles/codes.toml parses");
    maps.into_iter()
        .map(|(name, map)| (name, normalised(map)))
        .collect()
});

fn normalised(map: CodeMap) -> CodeMap {
    map.into_iter()
        .map(|(value, code)| (key(&value), code))
        .collect()
}

/// Every built-in profile, parsed. The files are part of the binary and parsed by a unit
/// test, so this cannot fail at run time.
pub static BUILT_IN: LazyLock<Vec<Arc<Profile>>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(file, text)| {
            Arc::new(
                Profile::parse(text, &format!("profiles/{file}")).expect("built-in profiles parse"),
            )
        })
        .collect()
});

/// The layouts a run may read: the built-in profiles, then a user's own profile files, and
/// files pinned to a layout (or to an extract) by name, as `[inputs]` in study.toml says.
#[derive(Debug, Clone, Default)]
pub struct Layouts {
    user: Vec<Arc<Profile>>,
    /// Data file name -> profile name or extract name.
    pub pinned: BTreeMap<String, String>,
}

impl PartialEq for Layouts {
    fn eq(&self, other: &Layouts) -> bool {
        let names = |layouts: &Layouts| -> Vec<(String, String)> {
            layouts
                .user
                .iter()
                .map(|profile| (profile.name.clone(), profile.origin.clone()))
                .collect()
        };
        names(self) == names(other) && self.pinned == other.pinned
    }
}

impl Layouts {
    /// The built-in layouts only.
    pub fn built_in() -> Layouts {
        Layouts::default()
    }

    /// The built-in layouts and the user's profile files (relative paths from `base_dir`),
    /// with `pinned` file names. A user profile may not reuse a built-in name; a pin must
    /// name a layout or an extract.
    pub fn with_user(
        profile_files: &[PathBuf],
        base_dir: &Path,
        pinned: BTreeMap<String, String>,
    ) -> Result<Layouts> {
        let mut user: Vec<Arc<Profile>> = Vec::new();
        for file in profile_files {
            let path = base_dir.join(file);
            let text = std::fs::read_to_string(&path)
                .map_err(|source| Error::io("reading input profile", &path, source))?;
            let profile = Profile::parse(&text, &path.display().to_string())?;
            let taken = BUILT_IN
                .iter()
                .chain(&user)
                .any(|known| known.name == profile.name);
            if taken {
                return Err(Error::input(
                    Location::file(&path),
                    format!(
                        "profile name '{}' is already a layout (`sp-impact profiles` lists them); give yours another name",
                        profile.name
                    ),
                ));
            }
            user.push(Arc::new(profile));
        }
        let layouts = Layouts { user, pinned };
        for (file, target) in &layouts.pinned {
            if contracts::by_name(target).is_none() && layouts.by_name(target).is_none() {
                return Err(Error::Usage(format!(
                    "[inputs.files] pins '{file}' to '{target}', which is neither an extract nor a layout"
                )));
            }
        }
        Ok(layouts)
    }

    /// The names of the user's own profiles.
    pub fn user_profile_names(&self) -> Vec<&str> {
        self.user
            .iter()
            .map(|profile| profile.name.as_str())
            .collect()
    }

    /// Every layout: built-in first, then the user's.
    pub fn all(&self) -> Vec<Arc<Profile>> {
        BUILT_IN.iter().chain(&self.user).cloned().collect()
    }

    pub fn by_name(&self, name: &str) -> Option<Arc<Profile>> {
        self.all().into_iter().find(|profile| profile.name == name)
    }
}

/// One layout's mapping onto a contract, as written in its TOML file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Short name, e.g. `ncdr-apcs`.
    pub name: String,
    /// What the layout is, for people.
    pub title: String,
    /// The contract (extract) it feeds.
    pub extract: String,
    /// Where the column names and code values come from.
    pub sources: Vec<String>,
    /// Header columns that together identify the layout (matched as header names are).
    pub signature: Vec<String>,
    /// Layouts this one steps aside for when a header fits both (an ehrQL event extract carries
    /// CTV3 and SNOMED CT codes: it is read by its SNOMED CT codes).
    #[serde(default)]
    pub defers_to: Vec<String>,
    /// Values read as blank in every column (e.g. HES's 1800-01-01 "null date").
    #[serde(default)]
    pub null_values: Vec<String>,
    /// How each contract column is filled; contract columns not listed are blank.
    pub columns: Vec<ColumnMap>,
    /// Rows the contract does not count, dropped and counted by reason.
    #[serde(default)]
    pub exclude: Vec<Exclusion>,
    /// Rows whose value in a source column meets a test get contract columns replaced, rule
    /// by rule in order (a later rule wins).
    #[serde(default)]
    pub recode: Vec<Recode>,
    /// Rows that stand for a second event, added with some columns replaced.
    #[serde(default)]
    pub also: Vec<AlsoRow>,
    /// For a long layout (one row per questionnaire item): which source columns hold the
    /// item and its response; rows of one person, date and instrument become one record.
    #[serde(default)]
    pub long: Option<LongItems>,
    /// Code maps of its own by name (source value -> contract code); a map named by a column
    /// but not given here comes from `profiles/codes.toml`.
    #[serde(default)]
    pub codes: BTreeMap<String, CodeMap>,
    /// Where the profile was read from (file name), for messages.
    #[serde(skip)]
    pub origin: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnMap {
    /// The contract column filled.
    pub to: String,
    /// The source column read; a list gives alternative names, the first in the header wins
    /// (extracts of one layout name the person identifier differently).
    #[serde(default)]
    pub from: Option<SourceColumns>,
    /// A constant written instead of reading a column.
    #[serde(default)]
    pub value: Option<String>,
    /// Source columns whose values, joined with "-", make the value: an identifier for a
    /// layout that has none (a referral recorded as a coded event: person, date, code).
    #[serde(default)]
    pub join: Vec<String>,
    /// Two source columns, a start and an end date-time, whose difference in whole minutes
    /// makes the value (an appointment's duration from its slot's start and end).
    #[serde(default)]
    pub between: Vec<String>,
    /// The code map (in `[codes]`) the source value goes through.
    #[serde(default)]
    pub codes: Option<String>,
    /// The source's unit, converted to the contract's (only `seconds` -> minutes).
    #[serde(default)]
    pub unit: Option<String>,
    /// The source holds a date and a time of day (`2023-04-03 09:10:00`, `03/04/2023 09:10`,
    /// `2023-04-03T09:10:00Z`); the date is kept, the time dropped. Only for date columns.
    #[serde(default)]
    pub datetime: bool,
    /// What to tell a user whose file lacks the source column (say, how to add it from
    /// another table of the same extract).
    #[serde(default)]
    pub if_missing: Option<String>,
}

/// The item and response columns of a long questionnaire layout.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LongItems {
    /// The item: its number (1, item_1, Q1), its name for instruments whose items are named
    /// (concern_1, life_satisfaction), or "score"/"total" for a vendor's total.
    pub item: SourceColumns,
    /// The response (or the total).
    pub value: SourceColumns,
}

impl SourceColumns {
    pub fn names(&self) -> &[String] {
        match self {
            SourceColumns::One(name) => std::slice::from_ref(name),
            SourceColumns::Any(names) => names,
        }
    }
}

/// One source column name, or alternatives (`from = ["ENCRYPTED_HESID", "TOKEN_PERSON_ID"]`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum SourceColumns {
    One(String),
    Any(Vec<String>),
}

impl ColumnMap {
    /// The source column names this column may be read from, in order of preference.
    pub fn candidates(&self) -> &[String] {
        match &self.from {
            None => &[],
            Some(SourceColumns::One(name)) => std::slice::from_ref(name),
            Some(SourceColumns::Any(names)) => names,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    /// The source column tested.
    pub column: String,
    /// Exclude rows whose value is one of these ("" for blank) ...
    #[serde(default)]
    pub values: Vec<String>,
    /// ... or whose value is not one of these.
    #[serde(default)]
    pub not_in: Vec<String>,
    /// Why, as counted in the quality report.
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recode {
    /// The source column tested.
    pub column: String,
    /// Recode rows whose value is one of these ("" for blank) ...
    #[serde(default)]
    pub values: Vec<String>,
    /// ... or whose value is not one of these (`not_in = [""]`: any value).
    #[serde(default)]
    pub not_in: Vec<String>,
    /// Contract columns replaced (constants; "" for blank).
    pub set: BTreeMap<String, String>,
    /// Why, for people reading the profile and `inspect`.
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlsoRow {
    /// The source column tested.
    pub column: String,
    /// Add the row when the value is one of these.
    pub values: Vec<String>,
    /// Contract columns replaced in the added row (constants; "" for blank).
    pub set: BTreeMap<String, String>,
    /// What the added row is, for the quality report.
    pub reason: String,
}

/// A value as profiles compare it: trimmed, lower case.
fn key(value: &str) -> String {
    value.trim().to_lowercase()
}

/// Whether `raw` is one of `values` (already keys), compared as keys are but without
/// allocating: this runs for every rule on every row of a profiled file.
fn listed(values: &[String], raw: &str) -> bool {
    let raw = raw.trim();
    values.iter().any(|value| value.eq_ignore_ascii_case(raw))
}

/// Whether a rule on a column applies to a value: one listing `values` applies to those, one
/// listing `not_in` to every other value (`not_in = [""]`: any value that is not blank).
pub fn rule_applies(values: &[String], not_in: &[String], raw: &str) -> bool {
    if not_in.is_empty() {
        values
            .iter()
            .any(|value| value.trim().eq_ignore_ascii_case(raw.trim()))
    } else {
        !not_in
            .iter()
            .any(|value| value.trim().eq_ignore_ascii_case(raw.trim()))
    }
}

impl Profile {
    /// Parses and checks a profile against its contract; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Profile> {
        let location = || Location::file(std::path::Path::new(origin));
        let mut profile: Profile = toml::from_str(text).map_err(|error| {
            let line = error
                .span()
                .map(|span| text[..span.start].matches('\n').count() as u64 + 1);
            let mut at = location();
            if let Some(line) = line {
                at = at.line(line);
            }
            Error::input(
                at,
                format!("not a valid input profile: {}", error.message()),
            )
        })?;
        profile.origin = origin.to_string();
        profile.codes = std::mem::take(&mut profile.codes)
            .into_iter()
            .map(|(name, map)| (name, normalised(map)))
            .collect();
        for name in profile.columns.iter().filter_map(|map| map.codes.clone()) {
            if !profile.codes.contains_key(&name)
                && let Some(shared) = SHARED.get(&name)
            {
                profile.codes.insert(name, shared.clone());
            }
        }
        profile
            .check()
            .map_err(|reason| Error::input(location(), reason))?;
        Ok(profile)
    }

    /// The contract this profile feeds.
    pub fn contract(&self) -> &'static Contract {
        contracts::by_name(&self.extract).expect("checked when the profile was parsed")
    }

    fn check(&self) -> std::result::Result<(), String> {
        let contract = contracts::by_name(&self.extract).ok_or_else(|| {
            format!(
                "profile '{}': extract '{}' is not one of the contracts",
                self.name, self.extract
            )
        })?;
        if self.signature.is_empty() {
            return Err(format!("profile '{}': signature is empty", self.name));
        }
        for map in &self.columns {
            let spec = contract
                .columns
                .iter()
                .find(|spec| spec.name == map.to)
                .ok_or_else(|| {
                    format!(
                        "profile '{}': '{}' is not a column of {}",
                        self.name, map.to, contract.name
                    )
                })?;
            let ways = [
                !map.candidates().is_empty(),
                map.value.is_some(),
                !map.join.is_empty(),
                !map.between.is_empty(),
            ];
            if ways.iter().filter(|way| **way).count() != 1 {
                return Err(format!(
                    "profile '{}': column '{}' needs exactly one of `from`, `value`, `join` and `between`",
                    self.name, map.to
                ));
            }
            if !map.between.is_empty()
                && (map.between.len() != 2 || !matches!(spec.kind, Kind::Int { .. }))
            {
                return Err(format!(
                    "profile '{}': column '{}': `between` takes two date-time columns (start, end) and fills a whole number of minutes",
                    self.name, map.to
                ));
            }
            if let Some(unit) = &map.unit
                && unit != "seconds"
            {
                return Err(format!(
                    "profile '{}': column '{}': unit '{unit}' is not known (only \"seconds\")",
                    self.name, map.to
                ));
            }
            if map.datetime && !matches!(spec.kind, Kind::Date) {
                return Err(format!(
                    "profile '{}': column '{}': `datetime` is only for date columns",
                    self.name, map.to
                ));
            }
            if let Some(name) = &map.codes {
                let codes = self.codes.get(name).ok_or_else(|| {
                    format!(
                        "profile '{}': column '{}' names code map '{name}', which neither [codes] nor profiles/codes.toml has",
                        self.name, map.to
                    )
                })?;
                for target in codes.values().filter(|target| !target.is_empty()) {
                    check_code(contract, &map.to, target)
                        .map_err(|reason| format!("profile '{}': {reason}", self.name))?;
                }
            }
            if let Some(value) = &map.value
                && let Kind::Code(set) = spec.kind
                && set.normalise(value).is_err()
            {
                return Err(format!(
                    "profile '{}': '{value}' is not a {} code",
                    self.name, set.name
                ));
            }
        }
        for recode in &self.recode {
            if recode.values.is_empty() == recode.not_in.is_empty() {
                return Err(format!(
                    "profile '{}': recode on '{}' needs exactly one of `values` and `not_in`",
                    self.name, recode.column
                ));
            }
        }
        let sets = self
            .recode
            .iter()
            .map(|recode| ("recode", &recode.set))
            .chain(self.also.iter().map(|also| ("also-row", &also.set)));
        for (rule, set) in sets {
            for (column, value) in set {
                if !contract.columns.iter().any(|spec| spec.name == column) {
                    return Err(format!(
                        "profile '{}': {rule} sets '{column}', which is not a column of {}",
                        self.name, contract.name
                    ));
                }
                if !value.is_empty() {
                    check_code(contract, column, value)
                        .map_err(|reason| format!("profile '{}': {reason}", self.name))?;
                }
            }
        }
        if self.long.is_some() && contract.name != "wellbeing" {
            return Err(format!(
                "profile '{}': [long] items only make sense for the wellbeing extract",
                self.name
            ));
        }
        for exclusion in &self.exclude {
            if exclusion.values.is_empty() == exclusion.not_in.is_empty() {
                return Err(format!(
                    "profile '{}': exclusion on '{}' needs exactly one of `values` and `not_in`",
                    self.name, exclusion.column
                ));
            }
        }
        Ok(())
    }

    /// The signature columns missing from a (normalised) header; empty when the layout fits.
    pub fn missing_from(&self, header: &[String]) -> Vec<&str> {
        self.signature
            .iter()
            .filter(|column| !header.contains(&super::normalise_name(column)))
            .map(String::as_str)
            .collect()
    }
}

/// Checks a constant or mapped code is valid for a code column (other kinds pass).
fn check_code(contract: &Contract, column: &str, code: &str) -> std::result::Result<(), String> {
    let spec = contract
        .columns
        .iter()
        .find(|spec| spec.name == column)
        .ok_or_else(|| format!("'{column}' is not a column of {}", contract.name))?;
    if let Kind::Code(set) = spec.kind
        && set.normalise(code).is_err()
    {
        return Err(format!("'{code}' is not a {} code ({column})", set.name));
    }
    Ok(())
}

/// How one contract column is filled from a source record.
#[derive(Debug)]
enum Fill {
    Blank,
    Constant(String),
    Join {
        positions: Vec<usize>,
        source: String,
    },
    Minutes {
        start: usize,
        end: usize,
        source: String,
    },
    Column {
        position: usize,
        source: String,
        codes: Option<String>,
        seconds: bool,
        date_only: bool,
    },
}

/// A test on one source column (an exclusion, a recode or an also-row), resolved to a position.
#[derive(Debug)]
struct Test<'p> {
    position: usize,
    values: Vec<String>,
    negate: bool,
    reason: &'p str,
}

impl Test<'_> {
    fn matches(&self, raw: &str) -> bool {
        listed(&self.values, raw) != self.negate
    }
}

/// What a source record becomes.
#[derive(Debug, PartialEq)]
pub enum Mapped {
    /// Contract-shaped records (raw text in contract column order): one, or more when an
    /// also-row applies (the extra ones carry the also-row's reason).
    Rows(Vec<(Vec<String>, Option<String>)>),
    /// Dropped by an exclusion, with its reason.
    Excluded(String),
}

/// A source column and value a mapping could not read.
#[derive(Debug)]
pub struct MapProblem {
    pub column: String,
    pub raw_value: String,
    pub problem: Problem,
}

/// A profile resolved against one file's header.
#[derive(Debug)]
pub struct Mapper<'p> {
    profile: &'p Profile,
    fills: Vec<Fill>,
    exclusions: Vec<Test<'p>>,
    recodes: Vec<(Test<'p>, &'p Recode)>,
    also: Vec<(Test<'p>, &'p AlsoRow)>,
    null_values: Vec<String>,
    /// Exclusion rules whose column the file lacks (so they cannot apply), for the report.
    pub skipped_rules: Vec<String>,
    /// For a long layout: the positions and names of the item and response columns.
    long: Option<((usize, String), (usize, String))>,
}

impl<'p> Mapper<'p> {
    /// Resolves `profile` against a file's header (as written); a source column the contract
    /// requires but the header lacks is an error naming the file.
    pub fn new(profile: &'p Profile, header: &[String], path: &Path) -> Result<Self> {
        let normalised: Vec<String> = header
            .iter()
            .map(|name| super::normalise_name(name))
            .collect();
        let position = |column: &str| {
            let wanted = super::normalise_name(column);
            normalised.iter().position(|name| *name == wanted)
        };
        // The file matched this layout's signature but misses a column the mapping needs.
        let lacks = |wanted: &str, purpose: &str| {
            Error::input(
                Location::file(path).line(1).column(wanted.to_string()),
                format!(
                    "the file looks like {} (profile '{}') but lacks column '{wanted}', {purpose}; \
                     the header has: {}",
                    profile.title,
                    profile.name,
                    header.join(", ")
                ),
            )
        };
        // A rule on a column: its position and values, or None when the file lacks it.
        let test = |column: &str, values: &[String], not_in: &[String], reason: &'p str| {
            position(column).map(|position| Test {
                position,
                values: values.iter().chain(not_in).map(|v| key(v)).collect(),
                negate: !not_in.is_empty(),
                reason,
            })
        };
        let contract = profile.contract();
        let mut fills = Vec::with_capacity(contract.columns.len());
        for spec in contract.columns {
            let fill = match profile.columns.iter().find(|map| map.to == spec.name) {
                None => Fill::Blank,
                Some(ColumnMap {
                    value: Some(value), ..
                }) => Fill::Constant(value.clone()),
                Some(map) if !map.between.is_empty() => {
                    match (position(&map.between[0]), position(&map.between[1])) {
                        (Some(start), Some(end)) => Fill::Minutes {
                            start,
                            end,
                            source: map.between.join(" to "),
                        },
                        _ if !spec.required => Fill::Blank,
                        _ => {
                            return Err(lacks(
                                &map.between.join("' and '"),
                                &format!("which make '{}'", spec.name),
                            ));
                        }
                    }
                }
                Some(map) if !map.join.is_empty() => {
                    let mut positions = Vec::with_capacity(map.join.len());
                    for column in &map.join {
                        let at = position(column).ok_or_else(|| {
                            lacks(column, &format!("which makes '{}'", spec.name))
                        })?;
                        positions.push(at);
                    }
                    Fill::Join {
                        positions,
                        source: map.join.join(" + "),
                    }
                }
                Some(map) => {
                    let found = map
                        .candidates()
                        .iter()
                        .find_map(|name| position(name).map(|at| (at, name.clone())));
                    match found {
                        Some((position, source)) => Fill::Column {
                            position,
                            source,
                            codes: map.codes.clone(),
                            seconds: map.unit.is_some(),
                            date_only: map.datetime,
                        },
                        None if spec.required => {
                            let mut purpose = format!("which fills the required '{}'", spec.name);
                            if let Some(hint) = &map.if_missing {
                                purpose = format!("{purpose} ({hint})");
                            }
                            return Err(lacks(&map.candidates().join("' or '"), &purpose));
                        }
                        None => Fill::Blank,
                    }
                }
            };
            fills.push(fill);
        }
        let mut skipped_rules = Vec::new();
        let mut exclusions = Vec::new();
        for rule in &profile.exclude {
            match test(&rule.column, &rule.values, &rule.not_in, &rule.reason) {
                Some(test) => exclusions.push(test),
                None => skipped_rules.push(format!(
                    "column '{}' is absent, so rows were not excluded by it ({})",
                    rule.column, rule.reason
                )),
            }
        }
        let mut recodes = Vec::new();
        for rule in &profile.recode {
            match test(&rule.column, &rule.values, &rule.not_in, &rule.reason) {
                Some(test) => recodes.push((test, rule)),
                None => skipped_rules.push(format!(
                    "column '{}' is absent, so no rows were recoded by it ({})",
                    rule.column, rule.reason
                )),
            }
        }
        let mut also = Vec::new();
        for rule in &profile.also {
            match test(&rule.column, &rule.values, &[], &rule.reason) {
                Some(test) => also.push((test, rule)),
                None => skipped_rules.push(format!(
                    "column '{}' is absent, so no rows were added by it ({})",
                    rule.column, rule.reason
                )),
            }
        }
        let long = match &profile.long {
            None => None,
            Some(long) => {
                let find = |columns: &SourceColumns, purpose: &str| -> Result<(usize, String)> {
                    columns
                        .names()
                        .iter()
                        .find_map(|name| position(name).map(|at| (at, name.clone())))
                        .ok_or_else(|| lacks(&columns.names().join("' or '"), purpose))
                };
                Some((
                    find(&long.item, "which names each answer's item")?,
                    find(&long.value, "which holds each answer's value")?,
                ))
            }
        };
        Ok(Mapper {
            profile,
            fills,
            exclusions,
            recodes,
            also,
            null_values: profile.null_values.iter().map(|v| key(v)).collect(),
            skipped_rules,
            long,
        })
    }

    pub fn profile(&self) -> &Profile {
        self.profile
    }

    /// Whether records are questionnaire items to be combined (a long layout).
    pub fn is_long(&self) -> bool {
        self.long.is_some()
    }

    /// The source column that fills a contract column, if one does.
    pub fn source_of(&self, contract_column: &str) -> Option<&str> {
        let index = self
            .profile
            .contract()
            .columns
            .iter()
            .position(|spec| spec.name == contract_column)?;
        match &self.fills[index] {
            Fill::Column { source, .. }
            | Fill::Join { source, .. }
            | Fill::Minutes { source, .. } => Some(source),
            _ => None,
        }
    }

    /// The source field at a position, blank when it is one of the profile's null values.
    fn field<'r>(&self, fields: &'r [String], position: usize) -> &'r str {
        let raw = fields.get(position).map_or("", String::as_str);
        if listed(&self.null_values, raw) {
            ""
        } else {
            raw
        }
    }

    /// Maps one source record (whose field count matches the header) onto the contract.
    pub fn map(&self, fields: &[String]) -> std::result::Result<Mapped, MapProblem> {
        for rule in &self.exclusions {
            if rule.matches(self.field(fields, rule.position)) {
                return Ok(Mapped::Excluded(rule.reason.to_string()));
            }
        }
        let mut row = Vec::with_capacity(self.fills.len());
        for fill in &self.fills {
            row.push(match fill {
                Fill::Blank => String::new(),
                Fill::Constant(value) => value.clone(),
                Fill::Join { positions, .. } => {
                    let parts: Vec<&str> = positions
                        .iter()
                        .map(|at| self.field(fields, *at).trim())
                        .collect();
                    if parts.iter().any(|part| part.is_empty()) {
                        String::new()
                    } else {
                        parts.join("-")
                    }
                }
                Fill::Minutes { start, end, source } => minutes_between(
                    self.field(fields, *start),
                    self.field(fields, *end),
                )
                .map_err(|raw_value| MapProblem {
                    column: source.clone(),
                    raw_value: raw_value.clone(),
                    problem: Problem::new(
                        Reason::BadDate,
                        format!(
                            "'{raw_value}' is not a date and time (YYYY-MM-DD HH:MM[:SS] or DD/MM/YYYY HH:MM[:SS])"
                        ),
                    ),
                })?,
                Fill::Column {
                    position,
                    source,
                    codes,
                    seconds,
                    date_only,
                } => {
                    let raw = self.field(fields, *position);
                    let raw = if *date_only { date_part(raw) } else { raw };
                    let value = match codes {
                        Some(name) => self.code(name, source, raw)?,
                        None => raw.trim().to_string(),
                    };
                    if *seconds {
                        seconds_to_minutes(&value)
                    } else {
                        value
                    }
                }
            });
        }
        for (rule, recode) in &self.recodes {
            if rule.matches(self.field(fields, rule.position)) {
                self.replace(&mut row, &recode.set);
            }
        }
        let mut rows = Vec::with_capacity(1);
        for (rule, also) in &self.also {
            if rule.matches(self.field(fields, rule.position)) {
                let mut extra = row.clone();
                self.replace(&mut extra, &also.set);
                rows.push((extra, Some(also.reason.clone())));
            }
        }
        rows.insert(0, (row, None));
        Ok(Mapped::Rows(rows))
    }

    /// Replaces contract columns of a mapped row by a rule's constants.
    fn replace(&self, row: &mut [String], set: &BTreeMap<String, String>) {
        let columns = self.profile.contract().columns;
        for (column, value) in set {
            let index = columns
                .iter()
                .position(|spec| spec.name == column)
                .expect("checked when parsed");
            row[index] = value.clone();
        }
    }

    /// A source value through a code map; a blank value with no entry for "" stays blank (the
    /// contract then decides whether blank is allowed).
    fn code(&self, map: &str, source: &str, raw: &str) -> std::result::Result<String, MapProblem> {
        let codes = &self.profile.codes[map];
        match codes.get(&key(raw)) {
            Some(code) => Ok(code.clone()),
            None if raw.trim().is_empty() => Ok(String::new()),
            None => Err(MapProblem {
                column: source.to_string(),
                raw_value: raw.to_string(),
                problem: Problem::new(
                    Reason::UnknownCode,
                    format!(
                        "'{}' is not a value of {source} that profile '{}' knows ({})",
                        raw.trim(),
                        self.profile.name,
                        known_values(codes)
                    ),
                ),
            }),
        }
    }
}

fn known_values(codes: &BTreeMap<String, String>) -> String {
    let values: Vec<&str> = codes.keys().map(String::as_str).collect();
    values.join(", ")
}

/// Combines the item rows of a long questionnaire layout into one contract record per
/// person, referral, date and instrument, in the order each questionnaire first appears.
#[derive(Default)]
pub struct Questionnaires {
    order: Vec<Vec<String>>,
    groups: std::collections::HashMap<Vec<String>, (u64, Vec<String>)>,
}

/// The contract columns that identify one questionnaire.
const QUESTIONNAIRE_KEY: [&str; 4] = ["person_id", "referral_id", "survey_date", "instrument"];

impl Questionnaires {
    /// Adds one mapped item row (`fields` in contract order, item columns blank) read from
    /// `source` at `line`. Returns whether it started a new questionnaire; an item that is
    /// not the instrument's, or answered twice, is a problem naming the source column.
    pub fn push(
        &mut self,
        mapper: &Mapper<'_>,
        fields: Vec<String>,
        source: &[String],
        line: u64,
    ) -> std::result::Result<bool, MapProblem> {
        let ((item_at, item_column), (value_at, _)) = mapper
            .long
            .as_ref()
            .expect("only long layouts combine items");
        let contract = mapper.profile.contract();
        let index = |name: &str| {
            contract
                .columns
                .iter()
                .position(|spec| spec.name == name)
                .expect("the wellbeing contract has this column")
        };
        let key: Vec<String> = QUESTIONNAIRE_KEY
            .iter()
            .map(|column| fields[index(column)].trim().to_lowercase())
            .collect();
        let raw_item = mapper.field(source, *item_at).trim().to_string();
        let value = mapper.field(source, *value_at).trim().to_string();
        let slot =
            item_slot(&fields[index("instrument")], &raw_item).ok_or_else(|| MapProblem {
                column: item_column.clone(),
                raw_value: raw_item.clone(),
                problem: Problem::new(
                    Reason::InvalidItems,
                    format!(
                        "'{raw_item}' is not an item of {} (give its number, 1 to {}, or its name)",
                        fields[index("instrument")].trim(),
                        crate::measures::MAX_ITEMS
                    ),
                ),
            })?;
        let column = index(slot);
        let is_new = !self.groups.contains_key(&key);
        let group = self
            .groups
            .entry(key.clone())
            .or_insert_with(|| (line, fields));
        if !group.1[column].is_empty() {
            return Err(MapProblem {
                column: item_column.clone(),
                raw_value: raw_item,
                problem: Problem::new(
                    Reason::DuplicateKey,
                    format!(
                        "{slot} of this questionnaire was already given on line {}",
                        group.0
                    ),
                ),
            });
        }
        group.1[column] = value;
        if is_new {
            self.order.push(key);
        }
        Ok(is_new)
    }

    /// The combined records, each with the line of its first item.
    pub fn finish(mut self) -> Vec<(u64, Vec<String>)> {
        self.order
            .iter()
            .filter_map(|key| self.groups.remove(key))
            .collect()
    }
}

/// The contract column an item goes to: `item_N` from a number (1, item_1, Q1), an item
/// name of an instrument whose items are named, or `score` for a total.
fn item_slot(instrument: &str, raw: &str) -> Option<&'static str> {
    use crate::ingest::contracts::wellbeing::ITEM_COLUMNS;
    let item = raw.trim().to_lowercase();
    if matches!(item.as_str(), "score" | "total") {
        return Some("score");
    }
    let number = item
        .trim_start_matches("item")
        .trim_start_matches('q')
        .trim_start_matches(['_', ' ']);
    if let Ok(n) = number.parse::<usize>() {
        return (1..=ITEM_COLUMNS.len())
            .contains(&n)
            .then(|| ITEM_COLUMNS[n - 1]);
    }
    static NAMED: LazyLock<Vec<(&str, i64, &str)>> = LazyLock::new(crate::measures::separate_items);
    NAMED
        .iter()
        .find(|(code, _, name)| code.eq_ignore_ascii_case(instrument.trim()) && *name == item)
        .map(|(_, position, _)| ITEM_COLUMNS[*position as usize - 1])
}

/// The date of a date and time (`2023-04-03 09:10:00`, `03/04/2023 09:10`,
/// `2023-04-03T09:10:00Z`): the text before the first space or `T`.
fn date_part(raw: &str) -> &str {
    let raw = raw.trim();
    raw.split([' ', 'T']).next().unwrap_or(raw)
}

/// Whole minutes from `start` to `end` (date-times as `YYYY-MM-DD HH:MM[:SS]`, with a space or
/// `T`, or `DD/MM/YYYY HH:MM[:SS]`): blank when either is blank; the text that does not read
/// as a date-time is the error. A negative difference is passed on for the contract to refuse.
fn minutes_between(start: &str, end: &str) -> std::result::Result<String, String> {
    let (start, end) = (start.trim(), end.trim());
    if start.is_empty() || end.is_empty() {
        return Ok(String::new());
    }
    let parse = |text: &str| -> std::result::Result<chrono::NaiveDateTime, String> {
        const FORMATS: [&str; 6] = [
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M",
            "%d/%m/%Y %H:%M:%S%.f",
            "%d/%m/%Y %H:%M",
            "%Y-%m-%dT%H:%M",
        ];
        let text_without_zone = text.strip_suffix('Z').unwrap_or(text);
        FORMATS
            .iter()
            .find_map(|format| {
                chrono::NaiveDateTime::parse_from_str(text_without_zone, format).ok()
            })
            .ok_or_else(|| text.to_string())
    };
    let minutes = (parse(end)? - parse(start)?).num_minutes();
    Ok(minutes.to_string())
}

/// Whole minutes from a duration in seconds (rounded half up); text that is not a number is
/// passed on for the contract to reject with its own reason.
fn seconds_to_minutes(value: &str) -> String {
    match value.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() => format!("{}", (seconds / 60.0).round() as i64),
        _ => value.to_string(),
    }
}

/// A layout that does not fit a header, with the signature columns the header lacks.
pub type NearMiss<'a> = (&'a Arc<Profile>, Vec<&'a str>);

/// The built-in profiles as text for people: name, extract, title, signature and sources.
pub fn listing() -> String {
    let mut text = String::new();
    for profile in BUILT_IN.iter() {
        text.push_str(&format!(
            "{}  ->  {}\n  {}\n  recognised by the columns: {}\n",
            profile.name,
            profile.extract,
            profile.title,
            profile.signature.join(", ")
        ));
        for source in &profile.sources {
            text.push_str(&format!("  source: {source}\n"));
        }
        text.push('\n');
    }
    text
}

/// The profiles that fit a header (the most specific, see [`most_specific`]), and for the rest
/// how close each came (signature columns present of those needed), best first.
pub fn fitting<'a>(
    profiles: &'a [Arc<Profile>],
    header: &[String],
) -> (Vec<&'a Arc<Profile>>, Vec<NearMiss<'a>>) {
    let normalised: Vec<String> = header
        .iter()
        .map(|name| super::normalise_name(name))
        .collect();
    let mut fits = Vec::new();
    let mut near = Vec::new();
    for profile in profiles {
        let missing = profile.missing_from(&normalised);
        if missing.is_empty() {
            fits.push(profile);
        } else if missing.len() < profile.signature.len() {
            near.push((profile, missing));
        }
    }
    near.sort_by_key(|(profile, missing)| (missing.len(), profile.name.clone()));
    (most_specific(fits), near)
}

/// The fitting layouts less those another fitting layout refines or that defer to another
/// fitting layout: a header with every signature column of one layout and of a second whose
/// signature has all of the first's and more (NCDR's APC episodes, `Episode_Number`, beside
/// its spells) is the second's.
fn most_specific(fits: Vec<&Arc<Profile>>) -> Vec<&Arc<Profile>> {
    let columns = |profile: &Profile| -> std::collections::BTreeSet<String> {
        profile
            .signature
            .iter()
            .map(|column| super::normalise_name(column))
            .collect()
    };
    let refines = |finer: &Profile, coarser: &Profile| {
        let (finer, coarser) = (columns(finer), columns(coarser));
        finer.len() > coarser.len() && finer.is_superset(&coarser)
    };
    fits.iter()
        .filter(|fit| {
            !fits
                .iter()
                .any(|other| refines(other, fit) || fit.defers_to.contains(&other.name))
        })
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_mapped_column_is_named_with_what_it_was_for() {
        let layouts = Layouts::built_in();
        let long = layouts.by_name("long-questionnaires").expect("built in");
        let header: Vec<String> = [
            "person_id",
            "referral_id",
            "survey_date",
            "instrument",
            "item",
        ]
        .map(String::from)
        .to_vec();
        let Err(error) = Mapper::new(&long, &header, Path::new("answers.csv")) else {
            panic!("a file without its value column was mapped");
        };
        let error = error.to_string();
        assert!(
            error.contains("lacks column 'value', which holds each answer's value")
                && error.contains("answers.csv"),
            "{error}"
        );
    }

    #[test]
    fn every_built_in_profile_parses_and_maps_onto_its_contract() {
        assert_eq!(BUILT_IN.len(), FILES.len());
        for profile in BUILT_IN.iter() {
            assert!(
                !profile.sources.is_empty(),
                "{} cites no source",
                profile.name
            );
            let mut header: Vec<String> = profile.signature.clone();
            header.extend(
                profile
                    .columns
                    .iter()
                    .filter_map(|map| map.candidates().first().cloned()),
            );
            let mapper = Mapper::new(profile, &header, Path::new("x.csv"))
                .unwrap_or_else(|error| panic!("{}: {error}", profile.name));
            assert_eq!(mapper.fills.len(), profile.contract().columns.len());
        }
        let names: std::collections::BTreeSet<&str> = BUILT_IN
            .iter()
            .map(|profile| profile.name.as_str())
            .collect();
        assert_eq!(names.len(), BUILT_IN.len(), "profile names are unique");
    }

    #[test]
    fn no_header_fits_two_built_in_profiles() {
        for profile in BUILT_IN.iter() {
            let (fits, _) = fitting(&BUILT_IN, &profile.signature);
            let names: Vec<&str> = fits.iter().map(|fit| fit.name.as_str()).collect();
            assert_eq!(names, [profile.name.as_str()]);
        }
    }

    #[test]
    fn a_header_fitting_a_layout_and_a_finer_one_is_read_as_the_finer() {
        let names = |header: &[&str]| -> Vec<String> {
            let header: Vec<String> = header.iter().map(|name| name.to_string()).collect();
            fitting(&BUILT_IN, &header)
                .0
                .iter()
                .map(|fit| fit.name.clone())
                .collect()
        };
        let spells = [
            "Der_Pseudo_NHS_Number",
            "Admission_Date",
            "Admission_Method",
        ];
        assert_eq!(names(&spells), ["ncdr-apcs"]);
        let episodes = [&spells[..], &["Episode_Number"]].concat();
        assert_eq!(names(&episodes), ["ncdr-apce"]);
    }

    #[test]
    fn a_layout_defers_only_to_built_in_layouts_of_its_extract() {
        for profile in BUILT_IN.iter() {
            for name in &profile.defers_to {
                let other = BUILT_IN.iter().find(|other| &other.name == name);
                assert!(
                    other.is_some_and(|other| other.extract == profile.extract),
                    "{} defers to {name}",
                    profile.name
                );
            }
        }
    }

    #[test]
    fn a_profile_naming_a_code_the_contract_lacks_is_an_error_with_its_file() {
        let text = r#"
name = "bad"
title = "bad"
extract = "hospital_activity"
sources = ["x"]
signature = ["a"]
[[columns]]
to = "setting"
value = "hospice"
"#;
        let error = Profile::parse(text, "my-profile.toml")
            .unwrap_err()
            .to_string();
        assert!(error.contains("my-profile.toml"), "{error}");
        assert!(
            error.contains("'hospice' is not a hospital setting code"),
            "{error}"
        );
        let typo = text.replace("[[columns]]", "[[column]]");
        let error = Profile::parse(&typo, "my-profile.toml")
            .unwrap_err()
            .to_string();
        assert!(error.contains("line"), "{error}");
    }

    #[test]
    fn seconds_become_whole_minutes() {
        assert_eq!(seconds_to_minutes("600"), "10");
        assert_eq!(seconds_to_minutes("89"), "1");
        assert_eq!(seconds_to_minutes("90"), "2");
        assert_eq!(seconds_to_minutes("ten"), "ten");
    }

    #[test]
    fn a_duration_is_the_minutes_between_two_date_times() {
        assert_eq!(
            minutes_between("30/10/2022 09:10:00", "30/10/2022 09:25:00"),
            Ok("15".to_string())
        );
        assert_eq!(
            minutes_between("2022-10-30T09:10:00Z", "2022-10-30 10:00"),
            Ok("50".to_string())
        );
        assert_eq!(minutes_between("", "2022-10-30 10:00"), Ok(String::new()));
        assert_eq!(
            minutes_between("2022-10-30 10:00", "2022-10-30 09:50"),
            Ok("-10".to_string())
        );
        assert_eq!(
            minutes_between("30 Oct 2022 09:10", "2022-10-30 10:00"),
            Err("30 Oct 2022 09:10".to_string())
        );
    }

    #[test]
    fn a_date_and_time_keeps_its_date() {
        assert_eq!(date_part("2023-04-03 09:10:00"), "2023-04-03");
        assert_eq!(date_part("03/04/2023 09:10"), "03/04/2023");
        assert_eq!(date_part(" 2023-04-03T09:10:00Z"), "2023-04-03");
        assert_eq!(date_part("2023-04-03"), "2023-04-03");
        assert_eq!(date_part(""), "");
    }
}
