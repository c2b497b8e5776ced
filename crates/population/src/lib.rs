//! Seeded synthetic population for evaluating Haven's matching: registered
//! children, tracing requests and their ground truth. Every name is generated;
//! nothing here describes a real person.
//!
//! [`generate`] builds households of siblings in five naming cultures, registers
//! most of the children (some twice), and files tracing requests in which a
//! relative describes the children in their own words: another script or
//! romanisation, typos, nicknames, remembered ages and partial dates. The
//! ground truth ([`RegisteredChild::person`], [`SoughtChild::person`],
//! [`Population::people`]) says which records are the same child.
//!
//! The same [`Config`] always gives the same [`Population`], on any platform:
//! the random source is implemented here (see `rng.rs`), not borrowed.
//!
//! Rates used (documented where they are drawn, in `generate.rs`):
//! about 92% of children in a household are registered, 60% of households
//! file a request, 10% of registrations lack tracing consent, officers slip
//! on ~4% of words and inquirers on ~10%.

mod calendar;
mod cyrillic;
mod generate;
mod names;
mod rng;
mod writer;

pub use calendar::{Day, PartialDay};
pub use generate::generate;

/// One kind of difficulty a written record carries, compared with a clean
/// copy in the canonical spelling: the labels by which figures are reported
/// per slice. A record or sought child carries every label that applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Noise {
    /// Written in the culture's own script (Arabic, Persian, Ge'ez, Cyrillic).
    NativeScript,
    /// French-style romanisation (Youssef, Abdelaziz, Chérif, Djamal).
    FrenchRomanisation,
    /// Scholarly Arabic romanisation (`'Abd al-'Azīz`, `Yūsuf`).
    ScholarlyRomanisation,
    /// Polish-style spelling of Cyrillic (Wołodymyr, Szewczenko).
    PolishRomanisation,
    /// Russian forms and readings of a Ukrainian name (Aleksandr, Sergei).
    RussianForms,
    /// Somali orthography (Maxamed, Cabdi) rather than English-style.
    SomaliOrthography,
    /// Vowel length written differently (Nour / Nur / Noor).
    ShortVowel,
    /// Everything in capitals.
    AllCaps,
    /// At least one slip of the pen in a name.
    Typo,
    /// A nickname or short form written as the given name.
    NicknameAsGiven,
    /// The father's name left out: the grandfather's name is written as
    /// the family name.
    DroppedFather,
    /// The grandfather's name left out of the chain.
    DroppedGrandfather,
    /// The whole name chain written in the given-name field.
    FullNameInGiven,
    /// Given and family names swapped.
    GivenFamilySwapped,
    /// Father's and grandfather's names in swapped order.
    ChainReordered,
    /// An age rounded to a multiple of five.
    AgeHeaped,
    /// The age at separation given as today's age.
    AgeAtSeparation,
    /// An age off by two years or more.
    AgeOffTwoPlus,
    /// A date of birth known only to the year or month.
    PartialDate,
    /// A second registration of a child already registered (another agency
    /// or officer, later).
    ReRegistration,
}

impl Noise {
    /// Stable snake_case label for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Noise::NativeScript => "native_script",
            Noise::FrenchRomanisation => "french_romanisation",
            Noise::ScholarlyRomanisation => "scholarly_romanisation",
            Noise::PolishRomanisation => "polish_romanisation",
            Noise::RussianForms => "russian_forms",
            Noise::SomaliOrthography => "somali_orthography",
            Noise::ShortVowel => "short_vowel",
            Noise::AllCaps => "all_caps",
            Noise::Typo => "typo",
            Noise::NicknameAsGiven => "nickname_as_given",
            Noise::DroppedFather => "dropped_father",
            Noise::DroppedGrandfather => "dropped_grandfather",
            Noise::FullNameInGiven => "full_name_in_given",
            Noise::GivenFamilySwapped => "given_family_swapped",
            Noise::ChainReordered => "chain_reordered",
            Noise::AgeHeaped => "age_heaped",
            Noise::AgeAtSeparation => "age_at_separation",
            Noise::AgeOffTwoPlus => "age_off_two_plus",
            Noise::PartialDate => "partial_date",
            Noise::ReRegistration => "re_registration",
        }
    }

    /// Whether the label is about names (else about age, dates or the record).
    pub fn is_name(self) -> bool {
        !matches!(
            self,
            Noise::AgeHeaped
                | Noise::AgeAtSeparation
                | Noise::AgeOffTwoPlus
                | Noise::PartialDate
                | Noise::ReRegistration
        )
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Seed: the same config gives byte-identical output.
    pub seed: u64,
    /// Number of households whose children may be registered. Look-alike
    /// households made up for no-match requests come on top.
    pub households: usize,
    /// Share of tracing requests none of whose sought children is
    /// registered (default 0.3, which with unregistered siblings and
    /// withheld consent leaves about 36 % of sought children without a
    /// searchable match; clamped to 0..=0.95).
    pub no_match_share: f64,
    /// Share of registered children registered twice (default 0.08): by
    /// another agency or officer, later, in that officer's own spelling.
    pub duplicate_share: f64,
    /// Share of registered households for which a relative files a tracing
    /// request (default 0.6).
    pub request_share: f64,
    /// Share of registrations with consent for tracing (default 0.9).
    pub consent_share: f64,
    /// The day the data set is "as of": nothing happens after it.
    pub today: Day,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            seed: 1,
            households: 1_000,
            no_match_share: 0.3,
            duplicate_share: 0.08,
            request_share: 0.6,
            consent_share: 0.9,
            today: Day::new(2026, 1, 15),
        }
    }
}

/// A naming culture: decides name structure, scripts and places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Culture {
    /// Syria, Sudan, Iraq: given + father + grandfather; Arabic script or
    /// many romanisations.
    Arabic,
    /// Afghanistan: given name plus father's name or a family/tribal name;
    /// Persian script or romanised.
    DariPashto,
    /// Eritrea: given + father + grandfather; Ge'ez script or romanised.
    Tigrinya,
    /// Somalia: given + father + grandfather; Somali orthography
    /// (Maxamed, Cali) or English-style spelling (Mohamed, Ali).
    Somali,
    /// Ukraine: given + patronymic + surname; Ukrainian or Russian forms,
    /// Cyrillic or several romanisations.
    UkrainianRussian,
}

impl Culture {
    /// All cultures, in declaration order.
    pub const ALL: [Culture; 5] = [
        Culture::Arabic,
        Culture::DariPashto,
        Culture::Tigrinya,
        Culture::Somali,
        Culture::UkrainianRussian,
    ];

    /// Whether names are a given name followed by the father's and
    /// grandfather's given names.
    pub fn is_chain(self) -> bool {
        matches!(self, Culture::Arabic | Culture::Tigrinya | Culture::Somali)
    }
}

/// Recorded sex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    /// Female.
    Female,
    /// Male.
    Male,
    /// Not recorded or not known.
    Unknown,
}

/// What a registration knows about a child's birth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Birth {
    /// A date of birth, often partial or estimated.
    Date(PartialDay),
    /// An age range assessed on a day (e.g. 8–10 years on 2025-03-02).
    AgeEstimate {
        /// Lower bound, completed years.
        min_years: u32,
        /// Upper bound, completed years.
        max_years: u32,
        /// When the age was assessed (the registration day).
        assessed_on: Day,
    },
}

/// A child's registration by an officer. Duplicate registrations of one
/// child share `person`.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredChild {
    /// Ground truth: index into [`Population::people`]; duplicates share it.
    pub person: usize,
    /// Ground truth: the household; siblings share it.
    pub household: usize,
    /// Naming culture.
    pub culture: Culture,
    /// Given name as written by the officer.
    pub given_name: String,
    /// Family name. Arabic, Tigrinya, Somali: father's and grandfather's
    /// given names ("Ahmed Ali"), the grandfather sometimes omitted.
    /// Dari/Pashto: the father's given name, or the family/tribal name for
    /// families that use one. Ukrainian/Russian: patronymic (usually) and
    /// surname ("Serhiivna Kovalenko").
    pub family_name: String,
    /// Nicknames and short forms the child is known by.
    pub other_names: Vec<String>,
    /// Recorded sex (rarely unknown or wrong).
    pub sex: Sex,
    /// Birth information, when any was recorded.
    pub birth: Option<Birth>,
    /// Father's name: his given name, then his own family name in the
    /// culture's structure.
    pub father_name: Option<String>,
    /// Mother's name: her given name, then her father's name (chain
    /// cultures) or her surname (Ukrainian/Russian).
    pub mother_name: Option<String>,
    /// Administrative path, country first, e.g. `["SO", "Banadir", "Hodan"]`;
    /// may be shorter or empty.
    pub place_of_birth: Vec<String>,
    /// Day of registration.
    pub registered_on: Day,
    /// Whether the child (or guardian) consented to tracing.
    pub consent_for_tracing: bool,
    /// Ground truth: the difficulties this registration carries, sorted.
    pub noise: Vec<Noise>,
}

/// A relative's request to find one or more children.
#[derive(Debug, Clone, PartialEq)]
pub struct TracingRequest {
    /// Who is asking.
    pub inquirer: Inquirer,
    /// Day the request was filed.
    pub filed_on: Day,
    /// The children sought: one to three siblings of one household.
    pub sought: Vec<SoughtChild>,
}

/// The person filing a tracing request.
#[derive(Debug, Clone, PartialEq)]
pub struct Inquirer {
    /// Given name, in the inquirer's spelling.
    pub given_name: String,
    /// Family name, structured like the child's culture; for a parent this
    /// is the rest of the name recorded as the child's father/mother name.
    pub family_name: String,
    /// Relation to the sought children.
    pub relation: Relation,
    /// Where the inquirer is now: an admin path at home, or just a host
    /// country code.
    pub place: Vec<String>,
}

/// How the inquirer is related to the sought children.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Relation {
    /// Mother.
    Mother,
    /// Father.
    Father,
    /// Adult sibling.
    Sibling,
    /// Grandparent.
    Grandparent,
    /// Aunt.
    Aunt,
    /// Uncle.
    Uncle,
    /// Neighbour, family friend, other relative.
    Other,
}

/// A child as the inquirer describes them.
#[derive(Debug, Clone, PartialEq)]
pub struct SoughtChild {
    /// Ground truth: index into [`Population::people`] when the child is
    /// registered; `None` when the child was never registered.
    pub person: Option<usize>,
    /// Ground truth: index into [`Population::people`], always set (also for
    /// children never registered); equals `person` when that is `Some`.
    pub individual: usize,
    /// Given name in the inquirer's spelling (sometimes a nickname).
    pub given_name: String,
    /// Family name in the inquirer's spelling (same structure as
    /// [`RegisteredChild::family_name`]).
    pub family_name: String,
    /// Nicknames, or the full given name when a nickname was given.
    pub other_names: Vec<String>,
    /// Sex as stated.
    pub sex: Sex,
    /// Age range in years as of the request's `filed_on`, derived from the
    /// age the inquirer remembers at separation.
    pub age_estimate: Option<(u32, u32)>,
    /// Date of birth as remembered.
    pub birth_date: Option<PartialDay>,
    /// Where the child was last seen, country first; may be short or empty.
    pub last_seen_place: Vec<String>,
    /// When the family was separated, as remembered.
    pub separated_on: Option<PartialDay>,
    /// A short generic phrase.
    pub circumstances: String,
    /// Ground truth: the difficulties this description carries, sorted.
    pub noise: Vec<Noise>,
}

/// Ground truth about one generated child.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    /// Household index.
    pub household: usize,
    /// Naming culture.
    pub culture: Culture,
    /// True sex (never `Unknown`).
    pub sex: Sex,
    /// True date of birth.
    pub born: Day,
    /// Day the household was separated.
    pub separated_on: Day,
    /// Canonical given name (Latin; Ukrainian national romanisation).
    pub given_name: String,
    /// Canonical family name, in the structure of
    /// [`RegisteredChild::family_name`], with the full chain.
    pub family_name: String,
    /// Indices into [`Population::children`] of this person's
    /// registrations (empty when never registered), ascending.
    pub records: Vec<usize>,
}

/// The generated data set.
#[derive(Debug, Clone, PartialEq)]
pub struct Population {
    /// Registrations, shuffled (duplicates and siblings are not adjacent).
    pub children: Vec<RegisteredChild>,
    /// Tracing requests, shuffled.
    pub requests: Vec<TracingRequest>,
    /// Ground truth per individual child, registered or not.
    pub people: Vec<Person>,
}

impl Population {
    /// Pairs `(i, j)`, `i < j`, of indices into `children` that register the
    /// same person, sorted.
    pub fn duplicate_pairs(&self) -> Vec<(usize, usize)> {
        let mut pairs = Vec::new();
        for p in &self.people {
            for (a, &i) in p.records.iter().enumerate() {
                for &j in &p.records[a + 1..] {
                    pairs.push((i.min(j), i.max(j)));
                }
            }
        }
        pairs.sort_unstable();
        pairs
    }

    /// Indices into `children` of every registration of the child
    /// `requests[request].sought[sought]`, ascending, **regardless of
    /// consent**: the ground truth says who the child is, even where a
    /// search must not show the record. Empty when the child was never
    /// registered or the indices are out of range. See
    /// [`Population::true_matches_with_consent`].
    pub fn true_matches(&self, request: usize, sought: usize) -> Vec<usize> {
        self.requests
            .get(request)
            .and_then(|r| r.sought.get(sought))
            .and_then(|s| s.person)
            .and_then(|p| self.people.get(p))
            .map(|p| p.records.clone())
            .unwrap_or_default()
    }

    /// As [`Population::true_matches`], keeping only registrations with
    /// `consent_for_tracing`: what a consent-respecting search should find.
    pub fn true_matches_with_consent(&self, request: usize, sought: usize) -> Vec<usize> {
        self.true_matches(request, sought)
            .into_iter()
            .filter(|&i| self.children[i].consent_for_tracing)
            .collect()
    }
}

#[cfg(test)]
mod tests;
