//! The plain data the matching engine reads and returns: records, tracing
//! requests, candidates and the evidence that explains each score.

/// A record id: a UUID as `u128`.
pub type RecordId = u128;

/// A calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl Day {
    /// A day; no validation (out-of-range parts are clamped when used).
    pub const fn new(year: i32, month: u8, day: u8) -> Self {
        Self { year, month, day }
    }

    /// Fractional years since year 0, precise enough for age arithmetic
    /// (months count as twelfths, days as 1/365).
    pub(crate) fn as_years(self) -> f64 {
        let month = f64::from(self.month.clamp(1, 12)) - 1.0;
        let day = f64::from(self.day.clamp(1, 31)) - 1.0;
        f64::from(self.year) + month / 12.0 + day / 365.0
    }
}

/// A date that may be known only to the year or month, or only estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartialDate {
    pub year: i32,
    pub month: Option<u8>,
    pub day: Option<u8>,
    pub estimated: bool,
}

impl PartialDate {
    /// An exact, complete date.
    pub const fn full(year: i32, month: u8, day: u8) -> Self {
        Self {
            year,
            month: Some(month),
            day: Some(day),
            estimated: false,
        }
    }

    /// A date known only to the year.
    pub const fn year(year: i32) -> Self {
        Self {
            year,
            month: None,
            day: None,
            estimated: false,
        }
    }

    /// The span of fractional years this date can stand for. An estimated
    /// date is widened by a year either side, because "born 2015 (estimated)"
    /// is a guess, not a fact.
    pub(crate) fn span(&self) -> (f64, f64) {
        let year = f64::from(self.year);
        let (lo, hi) = match (self.month.filter(|m| (1..=12).contains(m)), self.day) {
            (Some(month), Some(day)) if (1..=31).contains(&day) => {
                let at = Day::new(self.year, month, day).as_years();
                (at, at + 1.0 / 365.0)
            }
            (Some(month), _) => {
                let start = year + (f64::from(month) - 1.0) / 12.0;
                (start, start + 1.0 / 12.0)
            }
            (None, _) => (year, year + 1.0),
        };
        if self.estimated {
            (lo - 1.0, hi + 1.0)
        } else {
            (lo, hi)
        }
    }

    /// Whether the date is complete and not estimated.
    pub(crate) fn is_exact_day(&self) -> bool {
        !self.estimated && self.month.is_some() && self.day.is_some()
    }
}

/// An age given as a range of whole years, as assessed on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AgeEstimate {
    pub min_years: u32,
    pub max_years: u32,
    pub assessed_on: Day,
}

impl AgeEstimate {
    /// The birth span (fractional years) this estimate allows: a child aged
    /// `min..=max` whole years on `assessed_on` was born between
    /// `assessed_on - (max + 1)` and `assessed_on - min`.
    pub(crate) fn birth_span(&self) -> (f64, f64) {
        let at = self.assessed_on.as_years();
        let (min, max) = if self.min_years <= self.max_years {
            (self.min_years, self.max_years)
        } else {
            (self.max_years, self.min_years)
        };
        (at - f64::from(max) - 1.0, at - f64::from(min))
    }
}

/// Recorded sex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Sex {
    #[default]
    Unknown,
    Female,
    Male,
}

/// A registered child as matching sees it (identity-class fields only).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Person {
    /// As entered, any script.
    pub given_name: String,
    /// As entered: a surname, or a name chain (father's name, grandfather's
    /// name, …) in cultures that use one.
    pub family_name: String,
    pub other_names: Vec<String>,
    pub sex: Sex,
    pub birth_date: Option<PartialDate>,
    pub age: Option<AgeEstimate>,
    pub father_name: Option<String>,
    pub mother_name: Option<String>,
    /// Place of birth or origin as an admin path, country first.
    pub place: Vec<String>,
    /// The grandfather's name, recorded in its own field. When it is given, the
    /// name chain is taken field by field: the father's given name, this,
    /// then `family_name` (see [`Person::chain`]).
    pub grandfather_name: Option<String>,
    /// An East Slavic patronymic recorded in its own field; a patronymic
    /// written inside `family_name` is still recognised by its ending.
    pub patronymic: Option<String>,
    /// The name the child is called by: compared as another given name.
    pub nickname: Option<String>,
}

impl Person {
    /// The family name or name chain as compared: `family_name` as entered,
    /// or, when the grandfather's name has a field of its own, the chain
    /// father's given name · grandfather's name · family name. The father's
    /// name is left out when `family_name` already starts with it (an old
    /// habit of packing the chain into the family name).
    pub fn chain(&self) -> String {
        let Some(grandfather) = self.grandfather_name.as_deref().map(str::trim) else {
            return self.family_name.clone();
        };
        let family = self.family_name.trim();
        let father = self
            .father_name
            .as_deref()
            .and_then(|f| f.split_whitespace().next())
            .filter(|f| {
                let first = family.split_whitespace().next().unwrap_or_default();
                crate::normalise::fold_tokens(first) != crate::normalise::fold_tokens(f)
            })
            .unwrap_or_default();
        [father, grandfather, family]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The inquirer's relation to the sought child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Relation {
    Mother,
    Father,
    Sibling,
    OtherRelative,
    #[default]
    Unknown,
}

/// One sought child of a tracing request.
#[derive(Debug, Clone, PartialEq)]
pub struct Sought {
    /// As the inquirer spells it; `age` is the inquirer's estimate as of
    /// `asked_on`.
    pub person: Person,
    pub separated_on: Option<PartialDate>,
    /// The inquirer's full name.
    pub inquirer_name: Option<String>,
    pub relation: Relation,
    /// Admin path where the child was last seen, country first.
    pub last_seen: Vec<String>,
    pub asked_on: Day,
}

impl Sought {
    /// A request with only the person filled in, asked on `asked_on`.
    pub fn new(person: Person, asked_on: Day) -> Self {
        Self {
            person,
            separated_on: None,
            inquirer_name: None,
            relation: Relation::Unknown,
            last_seen: Vec::new(),
            asked_on,
        }
    }
}

/// What the caller knows about the request beyond the sought child.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MatchContext {
    /// Records rejected for this sought child: never proposed again.
    pub exclude: Vec<RecordId>,
    /// Records confirmed for other children of the same request.
    pub confirmed_siblings: Vec<RecordId>,
}

/// One proposed record with its calibrated probability and the evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: RecordId,
    /// Calibrated probability in `[0, 1]` that the record is the sought child.
    pub score: f64,
    pub evidence: Vec<Evidence>,
}

/// How one field comparison moved the score.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub field: Field,
    pub strength: Strength,
    /// log2 likelihood-ratio contribution (positive: for the match).
    pub weight: f64,
    pub reason: Reason,
}

/// The compared field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    GivenName,
    FamilyName,
    NameChain,
    OtherNames,
    Sex,
    Birth,
    Age,
    Place,
    Parent,
    Sibling,
}

impl Field {
    /// Stable lowercase identifier (`given_name`, `name_chain`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::GivenName => "given_name",
            Self::FamilyName => "family_name",
            Self::NameChain => "name_chain",
            Self::OtherNames => "other_names",
            Self::Sex => "sex",
            Self::Birth => "birth",
            Self::Age => "age",
            Self::Place => "place",
            Self::Parent => "parent",
            Self::Sibling => "sibling",
        }
    }
}

/// How strongly a field agreed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Strength {
    Exact,
    Strong,
    Weak,
    Missing,
    Disagrees,
}

/// Why a field agreed or disagreed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    Identical,
    TransliterationVariant,
    EquivalentName,
    Nickname,
    /// Edit distance: a typing or spelling variant.
    SpellingVariant,
    SameSkeleton,
    Phonetic,
    ReorderedTokens,
    DroppedTokens,
    DifferentName,
    AgeWithinEstimate,
    AgeWithinTolerance,
    AgeOutsideTolerance,
    /// The age fits as the child's age at separation, given as today's.
    AgeAtSeparation,
    SameBirthDate,
    /// Complete dates that differ by one digit or a day/month swap.
    BirthDateTypo,
    SameBirthYear,
    BirthDateConflict,
    SexAgrees,
    SexConflict,
    SamePlace,
    NearbyPlace {
        shared_levels: u8,
    },
    DifferentPlace,
    InquirerIsRecordedParent,
    ParentNameAgrees,
    ParentNameDiffers,
    SiblingOfConfirmedMatch,
    /// Another sought child of the same request fits this record better.
    BetterFitForSibling,
    NotRecorded,
}

impl Reason {
    /// A lowercase human phrase, e.g. "transliteration variant".
    pub fn describe(&self) -> String {
        let text = match self {
            Self::Identical => "identical",
            Self::TransliterationVariant => "transliteration variant",
            Self::EquivalentName => "equivalent name",
            Self::Nickname => "nickname",
            Self::SpellingVariant => "spelling variant",
            Self::SameSkeleton => "same consonant skeleton",
            Self::Phonetic => "sounds alike",
            Self::ReorderedTokens => "same names in another order",
            Self::DroppedTokens => "some names left out",
            Self::DifferentName => "different name",
            Self::AgeWithinEstimate => "age within estimate range",
            Self::AgeWithinTolerance => "age within tolerance",
            Self::AgeOutsideTolerance => "age outside tolerance",
            Self::AgeAtSeparation => "age fits as the age at separation",
            Self::SameBirthDate => "same date of birth",
            Self::BirthDateTypo => "date of birth differs by one digit",
            Self::SameBirthYear => "same year of birth",
            Self::BirthDateConflict => "different date of birth",
            Self::SexAgrees => "same sex",
            Self::SexConflict => "different sex",
            Self::SamePlace => "same place",
            Self::NearbyPlace { shared_levels } => {
                return format!("nearby place ({shared_levels} shared admin levels)");
            }
            Self::DifferentPlace => "different place",
            Self::InquirerIsRecordedParent => "inquirer is the recorded parent",
            Self::ParentNameAgrees => "parent's name agrees",
            Self::ParentNameDiffers => "parent's name differs",
            Self::SiblingOfConfirmedMatch => "sibling of a confirmed match",
            Self::BetterFitForSibling => "fits another sought sibling better",
            Self::NotRecorded => "not recorded",
        };
        text.to_owned()
    }
}

/// Score thresholds for the bands shown to officers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub likely: f64,
    pub possible: f64,
}

/// The band a score falls in; below `possible` a candidate is not shown,
/// unless it ranks among the first few of its search (`Weak`, see
/// [`Thresholds::band_ranked`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Band {
    Likely,
    Possible,
    /// Below `possible`, but among the best [`WEAK_RANKS`] candidates of the
    /// search and above [`WEAK_FLOOR`]: shown so that an officer sees what
    /// ranks, labelled as weak evidence.
    Weak,
}

/// How many of a search's best candidates may be shown as [`Band::Weak`].
pub const WEAK_RANKS: usize = 5;

/// The lowest score shown as [`Band::Weak`]: below it a candidate is noise
/// even at the top of a search (see SCORING.md).
pub const WEAK_FLOOR: f64 = 0.005;

impl Default for Thresholds {
    /// Calibrated defaults: see SCORING.md.
    fn default() -> Self {
        Self {
            likely: 0.80,
            possible: 0.20,
        }
    }
}

impl Thresholds {
    /// Thresholds for the duplicate check at registration: a pair at or
    /// above `likely` is reported as a probable re-registration of the same
    /// child; `possible` pairs may be listed for review. See SCORING.md.
    pub fn duplicate() -> Self {
        Self {
            likely: 0.50,
            possible: 0.20,
        }
    }

    /// The band of the candidate at `rank` (0 = best) of a search's
    /// best-first list: [`Thresholds::band`], or [`Band::Weak`] for one of
    /// the first [`WEAK_RANKS`] that scores at least [`WEAK_FLOOR`]. A true
    /// match with little evidence in a large registry often ranks first with
    /// a low score; an officer must see it, marked as weak.
    pub fn band_ranked(&self, score: f64, rank: usize) -> Option<Band> {
        match self.band(score) {
            Some(band) => Some(band),
            None if rank < WEAK_RANKS && score >= WEAK_FLOOR => Some(Band::Weak),
            None => None,
        }
    }

    /// The band of `score`, or `None` when it is below `possible`.
    pub fn band(&self, score: f64) -> Option<Band> {
        if score >= self.likely {
            Some(Band::Likely)
        } else if score >= self.possible {
            Some(Band::Possible)
        } else {
            None
        }
    }
}
