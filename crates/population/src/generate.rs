//! The generator: households and their children, registrations (with
//! duplicates), tracing requests (with no-match look-alikes), and the ground
//! truth tying them together. Every rate used is a named constant here.

use rand::Rng as _;

use crate::calendar::{Day, PartialDay};
use crate::names::{Pool, table};
use crate::rng::Rng;
use crate::writer::{Tok, Writer};
use crate::{
    Birth, Config, Culture, Inquirer, Noise, Person, Population, RegisteredChild, Relation, Sex,
    SoughtChild, TracingRequest,
};

/// Share of a household's children who are registered at all.
const REGISTERED_SHARE: f64 = 0.92;
/// Share of children registered together with their siblings (same
/// officer, same day).
const SIBLINGS_REGISTERED_TOGETHER: f64 = 0.8;
/// Share of twins among younger siblings.
const TWIN_SHARE: f64 = 0.04;
/// Share of boys among separated children (boys are over-represented).
const MALE_SHARE: f64 = 0.55;
/// Chance that a sibling's name is picked to resemble an elder sibling's
/// (same first three letters: Abdi/Abdirahman, Gebremedhin/Gebremeskel).
const SIMILAR_SIBLING_NAME: f64 = 0.25;
/// Chance that two siblings may share a name or a name and its short form
/// (Cabdullahi and Cabdi): real but rare, and hard for deduplication.
const SAME_STEM_SIBLINGS: f64 = 0.01;
/// Chance that male twins in Arabic, Somali and Afghan families are named
/// Hassan and Hussein.
const HASSAN_HUSSEIN_TWINS: f64 = 0.35;
/// Share of Afghan households known by a family or tribal name rather than
/// the father's name.
const AFGHAN_FAMILY_NAME: f64 = 0.4;
/// Household sizes 1..=5, relative weights.
const HOUSEHOLD_SIZES: [f64; 5] = [35.0, 28.0, 20.0, 11.0, 6.0];
/// Longest time since separation, in days (five years).
const MAX_SEPARATION_DAYS: f64 = 5.0 * 365.0;

/// Officer: chance of leaving out the grandfather's name.
const OFFICER_DROP_GRANDFATHER: f64 = 0.08;
/// Inquirer: chance of leaving out the grandfather's name.
const INQUIRER_DROP_GRANDFATHER: f64 = 0.2;
/// Inquirer: chance of giving father and grandfather in swapped order.
const INQUIRER_SWAP_CHAIN: f64 = 0.02;
/// Inquirer: chance of swapping given and family name.
const INQUIRER_SWAP_GIVEN_FAMILY: f64 = 0.03;
/// Chance of leaving out the father's name, so that the grandfather's name
/// stands as the family name (chain cultures).
const OFFICER_DROP_FATHER: f64 = 0.03;
const INQUIRER_DROP_FATHER: f64 = 0.06;
/// Chance of writing the whole chain in the given-name field.
const OFFICER_FULL_NAME_IN_GIVEN: f64 = 0.03;
const INQUIRER_FULL_NAME_IN_GIVEN: f64 = 0.04;
/// Officer: chance of swapping given and family name.
const OFFICER_SWAP_GIVEN_FAMILY: f64 = 0.01;
/// Officer: chance of writing a nickname as the given name (the child gave it).
const OFFICER_NICKNAME_AS_GIVEN: f64 = 0.03;
/// Inquirer: chance of giving the age the child had at separation as the
/// age today (the form asks "age", the parent remembers the last one known).
const INQUIRER_AGE_AT_SEPARATION: f64 = 0.12;
/// Inquirer: chance of an age off by two or three years.
const INQUIRER_AGE_OFF_TWO: f64 = 0.07;
/// Chance that a Ukrainian/Russian family name includes the patronymic.
const OFFICER_PATRONYMIC: f64 = 0.8;
const INQUIRER_PATRONYMIC: f64 = 0.55;
/// Officer: chance of recording a nickname among other names.
const OFFICER_NICKNAME: f64 = 0.12;
/// Inquirer: chance of giving a nickname instead of the given name, and of
/// adding one among other names.
const INQUIRER_NICKNAME_AS_GIVEN: f64 = 0.08;
const INQUIRER_NICKNAME_OTHER: f64 = 0.15;
/// Officer: chance of recording the father's and the mother's name.
const OFFICER_FATHER_NAME: f64 = 0.85;
const OFFICER_MOTHER_NAME: f64 = 0.75;
/// Sex recorded as unknown, or wrong.
const OFFICER_SEX_UNKNOWN: f64 = 0.01;
const OFFICER_SEX_WRONG: f64 = 0.005;
const INQUIRER_SEX_UNKNOWN: f64 = 0.005;
const INQUIRER_SEX_WRONG: f64 = 0.005;

/// The canonical names of Hassan/Hussein in each culture's table.
fn hassan_hussein(c: Culture) -> Option<(&'static str, &'static str)> {
    match c {
        Culture::Arabic => Some(("Hassan", "Hussein")),
        Culture::Somali => Some(("Xasan", "Xuseen")),
        Culture::DariPashto => Some(("Hassan", "Hussain")),
        _ => None,
    }
}

/// Host countries where relatives file requests from, by culture.
fn host_countries(c: Culture) -> &'static [&'static str] {
    match c {
        Culture::Arabic => &["TR", "LB", "JO", "DE", "EG", "TD"],
        Culture::DariPashto => &["IR", "PK", "DE", "TR"],
        Culture::Tigrinya => &["ET", "SD", "DE", "SE", "UG"],
        Culture::Somali => &["KE", "ET", "YE", "SE", "UG"],
        Culture::UkrainianRussian => &["PL", "DE", "MD", "CZ", "RO"],
    }
}

/// Generic separation circumstances.
const CIRCUMSTANCES: [&str; 10] = [
    "separated during the crossing",
    "lost contact at the border",
    "separated in a crowd at the bus station",
    "left behind during the evacuation",
    "separated when the area was shelled",
    "went missing from the camp",
    "separated at a checkpoint",
    "travelling with a neighbour, contact lost",
    "separated during the flight from the village",
    "sent ahead with relatives, no news since",
];

/// Somali descriptive nicknames (tall, small, short, light-skinned, dark).
const SOMALI_DESCRIPTORS: [&str; 5] = ["Dheere", "Yare", "Gaab", "Cadde", "Madoobe"];

/// A household's ground truth.
#[derive(Debug, Clone)]
struct House {
    culture: Culture,
    father: u16,
    grandfather: u16,
    great_grandfather: u16,
    mother: u16,
    mother_father: u16,
    /// Ukrainian/Russian surname, or an Afghan family/tribal name.
    surname: Option<u16>,
    region: usize,
    district: usize,
    separated: Day,
    /// Person ids, eldest first.
    children: Vec<usize>,
}

/// A child's ground truth.
#[derive(Debug, Clone)]
struct Kid {
    household: usize,
    given: u16,
    female: bool,
    born: Day,
    district: usize,
    registered: bool,
    /// Whether the first registration was written in native script.
    native_registration: bool,
    records: Vec<usize>,
}

impl Kid {
    fn pool(&self) -> Pool {
        if self.female {
            Pool::Female
        } else {
            Pool::Male
        }
    }
}

/// Stream spaces, so that each phase's draws are independent of the others.
const STREAM_HOUSEHOLD: u64 = 1 << 40;
const STREAM_REGISTER: u64 = 2 << 40;
const STREAM_REQUEST: u64 = 3 << 40;
const STREAM_LOOKALIKE: u64 = 4 << 40;
const STREAM_SHUFFLE: u64 = 5 << 40;

/// Generates a population from `config`; the same config always gives the
/// same (byte-identical) output.
pub fn generate(config: &Config) -> Population {
    let today = config.today;
    let mut houses: Vec<House> = Vec::with_capacity(config.households);
    let mut kids: Vec<Kid> = Vec::new();

    for h in 0..config.households {
        let mut rng = Rng::new(config.seed, STREAM_HOUSEHOLD | h as u64);
        let culture = Culture::ALL[rng.gen_range(0..Culture::ALL.len())];
        let house = make_household(&mut rng, culture, today, h, None, true, &mut kids);
        houses.push(house);
    }

    // Registrations.
    let mut children: Vec<RegisteredChild> = Vec::new();
    let duplicate = config.duplicate_share.clamp(0.0, 1.0);
    let consent = config.consent_share.clamp(0.0, 1.0);
    for (h, house) in houses.iter().enumerate() {
        let mut rng = Rng::new(config.seed, STREAM_REGISTER | h as u64);
        // Siblings found together are registered together: same officer,
        // same day. Some are found apart and registered separately.
        let family_day = day_between(&mut rng, house.separated.add_days(1), today);
        let family_officer = Writer::officer(house.culture, &mut rng);
        for &p in &house.children {
            if !kids[p].registered {
                continue;
            }
            let (first_day, officer) = if rng.gen_bool(SIBLINGS_REGISTERED_TOGETHER) {
                (family_day, family_officer.clone())
            } else {
                (
                    day_between(&mut rng, house.separated.add_days(1), today),
                    Writer::officer(house.culture, &mut rng),
                )
            };
            kids[p].native_registration = officer.native;
            let rec = register(&mut rng, house, &kids[p], p, first_day, &officer, consent);
            kids[p].records.push(children.len());
            children.push(rec);
            if rng.gen_bool(duplicate) {
                // A second agency, later, with its own officer and habits.
                let day = day_between(&mut rng, first_day.add_days(1), today);
                let officer = Writer::officer(house.culture, &mut rng);
                let mut rec = register(&mut rng, house, &kids[p], p, day, &officer, consent);
                rec.noise.push(Noise::ReRegistration);
                rec.noise.sort_unstable();
                kids[p].records.push(children.len());
                children.push(rec);
            }
        }
    }

    // Requests from registered households.
    let mut requests: Vec<TracingRequest> = Vec::new();
    let mut natural_no_match = 0usize;
    for (h, house) in houses.iter().enumerate() {
        let mut rng = Rng::new(config.seed, STREAM_REQUEST | h as u64);
        if !rng.gen_bool(config.request_share.clamp(0.0, 1.0)) {
            continue;
        }
        let sought = choose_sought(&mut rng, &house.children);
        if sought.iter().all(|&p| !kids[p].registered) {
            natural_no_match += 1;
        }
        requests.push(make_request(&mut rng, house, &sought, &kids, today));
    }

    // Look-alike households whose children were never registered, to bring
    // the no-match share to the configured level.
    let share = config.no_match_share.clamp(0.0, 0.95);
    let total = requests.len() as f64;
    let extra = ((share * total - natural_no_match as f64) / (1.0 - share))
        .ceil()
        .max(0.0) as usize;
    let registered_houses = houses.len();
    for k in 0..extra {
        let mut rng = Rng::new(config.seed, STREAM_LOOKALIKE | k as u64);
        let template = houses[rng.gen_range(0..registered_houses)].clone();
        let h = houses.len();
        let house = make_household(
            &mut rng,
            template.culture,
            today,
            h,
            Some(&template),
            false,
            &mut kids,
        );
        let sought = choose_sought(&mut rng, &house.children);
        requests.push(make_request(&mut rng, &house, &sought, &kids, today));
        houses.push(house);
    }

    // Shuffle so that siblings and duplicates are not adjacent.
    let mut rng = Rng::new(config.seed, STREAM_SHUFFLE);
    let order = permutation(&mut rng, children.len());
    let mut new_index = vec![0usize; children.len()];
    for (new, &old) in order.iter().enumerate() {
        new_index[old] = new;
    }
    let mut slots: Vec<Option<RegisteredChild>> = children.into_iter().map(Some).collect();
    let children: Vec<RegisteredChild> = order
        .iter()
        .map(|&old| slots[old].take().expect("each record is moved once"))
        .collect();
    let req_order = permutation(&mut rng, requests.len());
    let mut req_slots: Vec<Option<TracingRequest>> = requests.into_iter().map(Some).collect();
    let requests: Vec<TracingRequest> = req_order
        .iter()
        .map(|&old| req_slots[old].take().expect("each request is moved once"))
        .collect();

    let people = kids
        .iter()
        .map(|k| {
            let house = &houses[k.household];
            let canon = Writer::canonical(house.culture);
            let mut scratch = Rng::new(0, 0);
            let mut records: Vec<usize> = k.records.iter().map(|&r| new_index[r]).collect();
            records.sort_unstable();
            Person {
                household: k.household,
                culture: house.culture,
                sex: if k.female { Sex::Female } else { Sex::Male },
                born: k.born,
                separated_on: house.separated,
                given_name: canon
                    .spell(&mut scratch, Tok::Name(k.pool(), k.given))
                    .unwrap_or_default(),
                family_name: canon.write_all(
                    &mut scratch,
                    &family_toks(house, k.female, false, true, false),
                ),
                records,
            }
        })
        .collect();

    Population {
        children,
        requests,
        people,
    }
}

/// A uniformly random permutation of `0..n` (Fisher–Yates).
fn permutation(rng: &mut Rng, n: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.gen_range(0..=i);
        v.swap(i, j);
    }
    v
}

/// A day in `from..=to` (or `to` when the range is empty).
fn day_between(rng: &mut Rng, from: Day, to: Day) -> Day {
    let span = from.days_until(to);
    if span <= 0 {
        to
    } else {
        from.add_days(rng.gen_range(0..=span))
    }
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut Rng) -> f64 {
    let u1: f64 = rng.r#gen::<f64>().max(1e-12);
    let u2: f64 = rng.r#gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn weighted_index(rng: &mut Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rng.r#gen::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

/// Draws a name from `pool` other than `avoid`.
fn sample_other(rng: &mut Rng, culture: Culture, pool: Pool, avoid: u16) -> u16 {
    let list = table(culture).list(pool);
    for _ in 0..20 {
        let x = list.sample(rng);
        if x != avoid {
            return x;
        }
    }
    (avoid + 1) % list.entries.len() as u16
}

/// Whether two names of one list are the same or one is the other's short
/// form (Cabdullahi / Cabdi).
fn same_stem(culture: Culture, pool: Pool, a: u16, b: u16) -> bool {
    if a == b {
        return true;
    }
    let t = table(culture);
    let (ea, eb) = (t.entry(pool, a), t.entry(pool, b));
    ea.short.iter().flatten().any(|s| s == eb.canonical())
        || eb.short.iter().flatten().any(|s| s == ea.canonical())
}

/// A sibling's given name: popular names, sometimes resembling an elder
/// sibling's, rarely the same stem.
fn sibling_name(rng: &mut Rng, culture: Culture, pool: Pool, siblings: &[u16]) -> u16 {
    let list = table(culture).list(pool);
    for _ in 0..20 {
        let candidate = match siblings.first() {
            Some(&elder) if rng.gen_bool(SIMILAR_SIBLING_NAME) => {
                let prefix: String = list.entries[usize::from(elder)]
                    .canonical()
                    .chars()
                    .take(3)
                    .collect();
                let similar: Vec<u16> = (0..list.entries.len() as u16)
                    .filter(|&i| {
                        i != elder
                            && list.entries[usize::from(i)]
                                .canonical()
                                .starts_with(&prefix)
                    })
                    .collect();
                if similar.is_empty() {
                    list.sample(rng)
                } else {
                    similar[rng.gen_range(0..similar.len())]
                }
            }
            _ => list.sample(rng),
        };
        if siblings
            .iter()
            .all(|&s| !same_stem(culture, pool, s, candidate))
            || rng.gen_bool(SAME_STEM_SIBLINGS)
        {
            return candidate;
        }
    }
    list.sample(rng)
}

/// Builds one household and its children (appended to `kids`). A
/// `template` makes a look-alike: same culture, often the same father's
/// name or region, as unrelated families so often share.
fn make_household(
    rng: &mut Rng,
    culture: Culture,
    today: Day,
    household: usize,
    template: Option<&House>,
    may_register: bool,
    kids: &mut Vec<Kid>,
) -> House {
    let t = table(culture);
    let mut father = t.male.sample(rng);
    let mut grandfather = sample_other(rng, culture, Pool::Male, father);
    let great_grandfather = t.male.sample(rng);
    let mother = t.female.sample(rng);
    let mother_father = t.male.sample(rng);
    let mut surname = match culture {
        Culture::UkrainianRussian => Some(t.surname.sample(rng)),
        Culture::DariPashto if rng.gen_bool(AFGHAN_FAMILY_NAME) => Some(t.surname.sample(rng)),
        _ => None,
    };
    let mut region = rng.gen_range(0..t.regions.len());
    if let Some(tpl) = template {
        if rng.gen_bool(0.35) {
            father = tpl.father;
            if rng.gen_bool(0.3) {
                grandfather = tpl.grandfather;
            }
        }
        if tpl.surname.is_some() && rng.gen_bool(0.2) {
            surname = tpl.surname;
        }
        if rng.gen_bool(0.3) {
            region = tpl.region;
        }
    }
    let district = rng.gen_range(0..t.regions[region].districts.len());
    // Most separations are recent; a long tail reaches five years back.
    let back = 20 + (rng.r#gen::<f64>().powf(1.6) * MAX_SEPARATION_DAYS) as i64;
    let separated = today.add_days(-back);

    let n = 1 + weighted_index(rng, &HOUSEHOLD_SIZES);
    // Everyone must still be under 18 today.
    let max_age = 18 * 365 - 40 - back;
    let lo = (365 * (n as i64 - 1) + 200).min(max_age);
    let mut age = lo + ((max_age - lo) as f64 * rng.r#gen::<f64>().sqrt()) as i64;

    let mut children: Vec<usize> = Vec::new();
    let mut names: Vec<(bool, u16)> = Vec::new();
    for i in 0..n {
        let twin = i > 0 && rng.gen_bool(TWIN_SHARE);
        if i > 0 && !twin {
            age -= rng.gen_range(300..1500);
        }
        if age < 60 {
            break;
        }
        let female = match (twin, names.last()) {
            (true, Some(&(f, _))) if rng.gen_bool(0.65) => f,
            _ => !rng.gen_bool(MALE_SHARE),
        };
        let pool = if female { Pool::Female } else { Pool::Male };
        let same_sex: Vec<u16> = names
            .iter()
            .filter(|(f, _)| *f == female)
            .map(|&(_, g)| g)
            .collect();
        let mut given = sibling_name(rng, culture, pool, &same_sex);
        let male_twins = twin && !female && names.last().is_some_and(|&(f, _)| !f);
        if male_twins
            && let Some((a, b)) = hassan_hussein(culture)
            && let (Some(ia), Some(ib)) = (t.male.find(a), t.male.find(b))
            && rng.gen_bool(HASSAN_HUSSEIN_TWINS)
        {
            let last = names.len() - 1;
            names[last].1 = ia;
            kids[children[last]].given = ia;
            given = ib;
        }
        names.push((female, given));
        let district = if rng.gen_bool(0.85) {
            district
        } else {
            rng.gen_range(0..t.regions[region].districts.len())
        };
        children.push(kids.len());
        kids.push(Kid {
            household,
            given,
            female,
            born: separated.add_days(-age),
            district,
            registered: may_register && rng.gen_bool(REGISTERED_SHARE),
            native_registration: false,
            records: Vec::new(),
        });
    }
    House {
        culture,
        father,
        grandfather,
        great_grandfather,
        mother,
        mother_father,
        surname,
        region,
        district,
        separated,
        children,
    }
}

/// The words of a child's family name.
fn family_toks(
    house: &House,
    female: bool,
    drop_grandfather: bool,
    patronymic: bool,
    swap: bool,
) -> Vec<Tok> {
    match house.culture {
        Culture::UkrainianRussian => {
            let mut v = Vec::new();
            if patronymic {
                v.push(Tok::Patronymic {
                    father: house.father,
                    female,
                });
            }
            if let Some(idx) = house.surname {
                v.push(Tok::Surname { idx, female });
            }
            v
        }
        Culture::DariPashto => match house.surname {
            Some(s) => vec![Tok::Name(Pool::Surname, s)],
            None => vec![Tok::Name(Pool::Male, house.father)],
        },
        _ => {
            let mut v = vec![Tok::Name(Pool::Male, house.father)];
            if !drop_grandfather {
                v.push(Tok::Name(Pool::Male, house.grandfather));
                if swap {
                    v.swap(0, 1);
                }
            }
            v
        }
    }
}

/// The words of the father's full name: his given name first.
fn father_toks(house: &House, short: bool, patronymic: bool) -> Vec<Tok> {
    let mut v = vec![Tok::Name(Pool::Male, house.father)];
    match house.culture {
        Culture::UkrainianRussian => {
            if patronymic {
                v.push(Tok::Patronymic {
                    father: house.grandfather,
                    female: false,
                });
            }
            if let Some(idx) = house.surname {
                v.push(Tok::Surname { idx, female: false });
            }
        }
        Culture::DariPashto => match house.surname {
            Some(s) => v.push(Tok::Name(Pool::Surname, s)),
            None => v.push(Tok::Name(Pool::Male, house.grandfather)),
        },
        _ => {
            v.push(Tok::Name(Pool::Male, house.grandfather));
            if !short {
                v.push(Tok::Name(Pool::Male, house.great_grandfather));
            }
        }
    }
    v
}

/// The words of the mother's full name: her given name first.
fn mother_toks(house: &House, short: bool) -> Vec<Tok> {
    let mut v = vec![Tok::Name(Pool::Female, house.mother)];
    match house.culture {
        Culture::UkrainianRussian => {
            if let Some(idx) = house.surname {
                v.push(Tok::Surname { idx, female: true });
            }
        }
        _ if short => {}
        _ => v.push(Tok::Name(Pool::Male, house.mother_father)),
    }
    v
}

fn recorded_sex(rng: &mut Rng, female: bool, unknown: f64, wrong: f64) -> Sex {
    let x: f64 = rng.r#gen();
    let truth = if female { Sex::Female } else { Sex::Male };
    if x < unknown {
        Sex::Unknown
    } else if x < unknown + wrong {
        if female { Sex::Male } else { Sex::Female }
    } else {
        truth
    }
}

/// An admin path of `depth` levels (0–3) in the writer's spelling.
fn place_path(writer: &Writer, region: usize, district: usize, depth: usize) -> Vec<String> {
    let r = &table(writer.culture).regions[region];
    let mut v = Vec::new();
    if depth >= 1 {
        v.push(r.country.clone());
    }
    if depth >= 2 {
        v.push(writer.place(&r.names));
    }
    if depth >= 3 {
        v.push(writer.place(&r.districts[district]));
    }
    v
}

/// An officer's age assessment: error growing with age, heaping on
/// multiples of five, ranges of zero to four years. Labels: heaped, and
/// off by two years or more (the true age outside the range by 2+).
fn officer_age_estimate(rng: &mut Rng, born: Day, on: Day, noise: &mut Vec<Noise>) -> (u32, u32) {
    let years = born.days_until(on) as f64 / 365.25;
    let sd = 0.3 + years / 15.0;
    let mut centre = (years + normal(rng) * sd).round().max(0.0);
    if centre >= 4.0 && rng.gen_bool(0.25) {
        let heaped = (centre / 5.0).round() * 5.0;
        if heaped != centre {
            noise.push(Noise::AgeHeaped);
        }
        centre = heaped;
    }
    let width = [0u32, 1, 2, 4][weighted_index(rng, &[25.0, 20.0, 45.0, 10.0])];
    let centre = centre.min(17.0) as u32;
    let min = centre.saturating_sub(width / 2);
    let completed = born.years_until(on).max(0) as u32;
    if completed + 2 <= min || completed >= min + width + 2 {
        noise.push(Noise::AgeOffTwoPlus);
    }
    (min, min + width)
}

/// What an officer records about birth. Rates: full date 30%, year and
/// month 5%, year only 20% (one in ten a year off), 1 January convention
/// 15%, age estimate 25%, nothing 5%.
fn officer_birth(
    rng: &mut Rng,
    born: Day,
    registered: Day,
    noise: &mut Vec<Noise>,
) -> Option<Birth> {
    match weighted_index(rng, &[30.0, 5.0, 20.0, 15.0, 25.0, 5.0]) {
        0 => Some(Birth::Date(PartialDay::full(born))),
        1 => {
            noise.push(Noise::PartialDate);
            Some(Birth::Date(PartialDay::year_month(born)))
        }
        2 => {
            noise.push(Noise::PartialDate);
            let off = if rng.gen_bool(0.1) {
                if rng.gen_bool(0.5) { 1 } else { -1 }
            } else {
                0
            };
            let mut p = PartialDay::year_only(born.year + off);
            p.estimated = rng.gen_bool(0.3);
            Some(Birth::Date(p))
        }
        3 => {
            let (lo, hi) = officer_age_estimate(rng, born, registered, noise);
            let age = (lo + hi) / 2;
            Some(Birth::Date(PartialDay {
                year: registered.year - age as i32,
                month: Some(1),
                day: Some(1),
                estimated: true,
            }))
        }
        4 => {
            let (min_years, max_years) = officer_age_estimate(rng, born, registered, noise);
            Some(Birth::AgeEstimate {
                min_years,
                max_years,
                assessed_on: registered,
            })
        }
        _ => None,
    }
}

/// One registration of a child by `officer`.
fn register(
    rng: &mut Rng,
    house: &House,
    kid: &Kid,
    person: usize,
    registered_on: Day,
    officer: &Writer,
    consent_share: f64,
) -> RegisteredChild {
    let culture = house.culture;
    let pool = kid.pool();
    let mut noise = officer.labels();
    officer.take_slips();
    let mut other_names = Vec::new();
    let mut given_name = officer
        .write(rng, Tok::Name(pool, kid.given))
        .unwrap_or_default();
    if rng.gen_bool(OFFICER_NICKNAME_AS_GIVEN)
        && let Some(nick) = officer.write(rng, Tok::Short(pool, kid.given))
    {
        noise.push(Noise::NicknameAsGiven);
        other_names.push(std::mem::replace(&mut given_name, nick));
    } else if rng.gen_bool(OFFICER_NICKNAME) {
        other_names.extend(officer.write(rng, Tok::Short(pool, kid.given)));
    }
    let drop_gf = rng.gen_bool(OFFICER_DROP_GRANDFATHER);
    let drop_father = culture.is_chain() && rng.gen_bool(OFFICER_DROP_FATHER);
    let patronymic = rng.gen_bool(OFFICER_PATRONYMIC);
    let mut toks = family_toks(
        house,
        kid.female,
        drop_gf && !drop_father,
        patronymic,
        false,
    );
    if drop_father {
        toks.remove(0);
        noise.push(Noise::DroppedFather);
    } else if drop_gf && culture.is_chain() {
        noise.push(Noise::DroppedGrandfather);
    }
    let mut family_name = officer.write_all(rng, &toks);
    shift_fields(
        rng,
        &mut given_name,
        &mut family_name,
        OFFICER_FULL_NAME_IN_GIVEN,
        OFFICER_SWAP_GIVEN_FAMILY,
        &mut noise,
    );
    if culture == Culture::Somali && rng.gen_bool(0.05) {
        other_names
            .push(SOMALI_DESCRIPTORS[rng.gen_range(0..SOMALI_DESCRIPTORS.len())].to_string());
    }
    if officer.take_slips() > 0 {
        noise.push(Noise::Typo);
    }
    let sex = recorded_sex(rng, kid.female, OFFICER_SEX_UNKNOWN, OFFICER_SEX_WRONG);
    let birth = officer_birth(rng, kid.born, registered_on, &mut noise);
    let father_name = rng.gen_bool(OFFICER_FATHER_NAME).then(|| {
        let short = rng.gen_bool(0.35);
        let pat = rng.gen_bool(0.6);
        officer.write_all(rng, &father_toks(house, short, pat))
    });
    let mother_name = rng.gen_bool(OFFICER_MOTHER_NAME).then(|| {
        let short = rng.gen_bool(0.3);
        officer.write_all(rng, &mother_toks(house, short))
    });
    let depth = [3, 2, 1, 0][weighted_index(rng, &[60.0, 25.0, 10.0, 5.0])];
    let place_of_birth = place_path(officer, house.region, kid.district, depth);
    RegisteredChild {
        person,
        household: kid.household,
        culture,
        given_name,
        family_name,
        other_names,
        sex,
        birth,
        father_name,
        mother_name,
        place_of_birth,
        registered_on,
        consent_for_tracing: rng.gen_bool(consent_share),
        noise: {
            noise.sort_unstable();
            noise.dedup();
            noise
        },
    }
}

/// Moves names between fields as writers do: the whole chain typed into the
/// given-name field (family left empty), or given and family swapped.
fn shift_fields(
    rng: &mut Rng,
    given: &mut String,
    family: &mut String,
    full_in_given: f64,
    swap: f64,
    noise: &mut Vec<Noise>,
) {
    if family.is_empty() {
        return;
    }
    if rng.gen_bool(full_in_given) {
        *given = format!("{given} {family}");
        family.clear();
        noise.push(Noise::FullNameInGiven);
    } else if rng.gen_bool(swap) {
        std::mem::swap(given, family);
        noise.push(Noise::GivenFamilySwapped);
    }
}

/// Which children a request seeks: all of a small household usually, else
/// one to three of them.
fn choose_sought(rng: &mut Rng, children: &[usize]) -> Vec<usize> {
    if children.len() <= 3 && rng.gen_bool(0.65) {
        return children.to_vec();
    }
    let k = rng.gen_range(1..=children.len().min(3));
    let mut pick = permutation(rng, children.len());
    pick.truncate(k);
    pick.sort_unstable();
    pick.into_iter().map(|i| children[i]).collect()
}

/// Relation of the inquirer: mostly parents.
fn relation(rng: &mut Rng) -> Relation {
    const R: [Relation; 7] = [
        Relation::Mother,
        Relation::Father,
        Relation::Sibling,
        Relation::Grandparent,
        Relation::Aunt,
        Relation::Uncle,
        Relation::Other,
    ];
    R[weighted_index(rng, &[38.0, 30.0, 8.0, 8.0, 7.0, 6.0, 3.0])]
}

/// The inquirer's own name, as they write it.
fn inquirer_name(rng: &mut Rng, w: &Writer, house: &House, rel: Relation) -> (String, String) {
    let c = house.culture;
    let t = table(c);
    let split = |rng: &mut Rng, toks: Vec<Tok>| -> (String, String) {
        let given = w.write_all(rng, &toks[..1]);
        let family = w.write_all(rng, &toks[1..]);
        (given, family)
    };
    match rel {
        Relation::Father => {
            let short = rng.gen_bool(0.4);
            let pat = rng.gen_bool(0.6);
            split(rng, father_toks(house, short, pat))
        }
        Relation::Mother => split(rng, mother_toks(house, false)),
        Relation::Sibling | Relation::Aunt | Relation::Uncle | Relation::Grandparent => {
            let female = match rel {
                Relation::Aunt => true,
                Relation::Uncle => false,
                _ => rng.gen_bool(0.5),
            };
            let pool = if female { Pool::Female } else { Pool::Male };
            let given = if rel == Relation::Grandparent && !female {
                house.grandfather
            } else {
                t.list(pool).sample(rng)
            };
            // Siblings carry the children's family name; paternal aunts,
            // uncles and grandparents the father's.
            let mut toks = vec![Tok::Name(pool, given)];
            match (c, rel) {
                (Culture::UkrainianRussian, _) => {
                    if let Some(idx) = house.surname {
                        toks.push(Tok::Surname { idx, female });
                    }
                }
                (_, Relation::Sibling) => {
                    toks.extend(family_toks(house, female, false, false, false))
                }
                // Afghan relatives: the family name if the family uses one,
                // else their own father's name (the grandfather's for the
                // father's siblings, the great-grandfather's for the grandfather).
                (Culture::DariPashto, _) => match (house.surname, rel, female) {
                    (Some(s), _, _) => toks.push(Tok::Name(Pool::Surname, s)),
                    (None, Relation::Grandparent, false) => {
                        toks.push(Tok::Name(Pool::Male, house.great_grandfather));
                    }
                    (None, Relation::Grandparent, true) => {
                        toks.push(Tok::Name(Pool::Male, t.male.sample(rng)));
                    }
                    (None, _, _) => toks.push(Tok::Name(Pool::Male, house.grandfather)),
                },
                (_, Relation::Grandparent) if !female => {
                    toks.push(Tok::Name(Pool::Male, house.great_grandfather));
                }
                (_, Relation::Grandparent) => toks.push(Tok::Name(Pool::Male, t.male.sample(rng))),
                _ => {
                    toks.push(Tok::Name(Pool::Male, house.grandfather));
                    toks.push(Tok::Name(Pool::Male, house.great_grandfather));
                }
            }
            split(rng, toks)
        }
        Relation::Other => {
            let female = rng.gen_bool(0.5);
            let pool = if female { Pool::Female } else { Pool::Male };
            let mut toks = vec![Tok::Name(pool, t.list(pool).sample(rng))];
            match c {
                Culture::UkrainianRussian => toks.push(Tok::Surname {
                    idx: t.surname.sample(rng),
                    female,
                }),
                _ => {
                    toks.push(Tok::Name(Pool::Male, t.male.sample(rng)));
                    if c.is_chain() {
                        toks.push(Tok::Name(Pool::Male, t.male.sample(rng)));
                    }
                }
            }
            split(rng, toks)
        }
    }
}

/// What the inquirer remembers of a child's age and birth. Parents give a
/// date more often and err less. Ages are remembered as of separation and
/// carried forward to `filed_on`, so they stay consistent with time.
fn remembered_age(
    rng: &mut Rng,
    born: Day,
    separated: Day,
    filed_on: Day,
    parent: bool,
    noise: &mut Vec<Noise>,
) -> (Option<(u32, u32)>, Option<PartialDay>) {
    let (p_full, p_year, p_off) = if parent {
        (0.45, 0.25, 0.08)
    } else {
        (0.1, 0.3, 0.2)
    };
    let x: f64 = rng.r#gen();
    let birth_date = if x < p_full {
        Some(PartialDay::full(born))
    } else if x < p_full + p_year {
        let off = if rng.gen_bool(p_off) {
            if rng.gen_bool(0.5) { 1 } else { -1 }
        } else {
            0
        };
        noise.push(Noise::PartialDate);
        Some(PartialDay::year_only(born.year + off))
    } else {
        None
    };
    let p_age = match (birth_date.is_some(), parent) {
        (false, _) => 0.95,
        (true, true) => 0.45,
        (true, false) => 0.7,
    };
    let age = rng.gen_bool(p_age).then(|| {
        let at_separation = born.years_until(separated).max(0);
        let err = if rng.gen_bool(if parent { 0.15 } else { 0.3 }) {
            if rng.gen_bool(0.5) { 1 } else { -1 }
        } else {
            0
        };
        let err = if rng.gen_bool(INQUIRER_AGE_OFF_TWO) {
            let size = rng.gen_range(2..=3);
            if rng.gen_bool(0.5) { size } else { -size }
        } else {
            err
        };
        let mut believed = (at_separation + err).max(0);
        if !parent && believed >= 5 && rng.gen_bool(0.1) {
            let heaped = (believed + 2) / 5 * 5;
            if heaped != believed {
                noise.push(Noise::AgeHeaped);
            }
            believed = heaped;
        }
        let elapsed = separated.days_until(filed_on) as f64 / 365.25;
        // Completed years now lie between believed + ⌊elapsed⌋ and one more,
        // unless the inquirer gives the age at separation as today's.
        let carried = if rng.gen_bool(INQUIRER_AGE_AT_SEPARATION) {
            if elapsed >= 1.0 {
                noise.push(Noise::AgeAtSeparation);
            }
            0
        } else {
            elapsed.floor() as i32
        };
        let lo = believed + carried;
        let now = born.years_until(filed_on);
        if lo > now + 2 || lo + 1 < now - 1 {
            noise.push(Noise::AgeOffTwoPlus);
        }
        let (lo, hi) = if rng.gen_bool(0.2) {
            (lo - 1, lo + 1)
        } else {
            (lo, lo + 1)
        };
        (lo.max(0) as u32, hi.max(0) as u32)
    });
    (age, birth_date)
}

/// The separation date as remembered: year and month 60%, full 25%, year
/// only 10%, not given 5%; the month is off by one a tenth of the time.
fn remembered_separation(rng: &mut Rng, separated: Day) -> Option<PartialDay> {
    let shifted = if rng.gen_bool(0.1) {
        separated.add_days(if rng.gen_bool(0.5) { 30 } else { -30 })
    } else {
        separated
    };
    match weighted_index(rng, &[60.0, 25.0, 10.0, 5.0]) {
        0 => Some(PartialDay::year_month(shifted)),
        1 => Some(PartialDay::full(separated)),
        2 => Some(PartialDay::year_only(separated.year)),
        _ => None,
    }
}

/// A tracing request for `sought` children of `house`.
fn make_request(
    rng: &mut Rng,
    house: &House,
    sought: &[usize],
    kids: &[Kid],
    today: Day,
) -> TracingRequest {
    let c = house.culture;
    let t = table(c);
    // Requests are mostly filed soon after separation.
    let span = house.separated.days_until(today);
    let filed_on = if span <= 7 {
        today
    } else {
        house
            .separated
            .add_days(7 + (rng.r#gen::<f64>().powi(2) * (span - 7) as f64) as i64)
    };
    // Native script appears on one side only.
    let allow_native = sought.iter().all(|&p| !kids[p].native_registration);
    let w = Writer::inquirer(c, rng, allow_native);
    let rel = relation(rng);
    let (given_name, family_name) = inquirer_name(rng, &w, house, rel);
    let region = &t.regions[house.region];
    let place = if rng.gen_bool(0.55) {
        vec![
            region.country.clone(),
            w.place(&region.names),
            w.place(&region.districts[house.district]),
        ]
    } else {
        let hosts = host_countries(c);
        vec![hosts[rng.gen_range(0..hosts.len())].to_string()]
    };
    let separated_on = remembered_separation(rng, house.separated);
    let circumstances = CIRCUMSTANCES[rng.gen_range(0..CIRCUMSTANCES.len())].to_string();
    let parent = matches!(rel, Relation::Mother | Relation::Father);

    let sought = sought
        .iter()
        .map(|&p| {
            let kid = &kids[p];
            let pool = kid.pool();
            let mut noise = w.labels();
            w.take_slips();
            let mut other_names = Vec::new();
            let full_given = w.write(rng, Tok::Name(pool, kid.given)).unwrap_or_default();
            let mut given_name = full_given.clone();
            if rng.gen_bool(INQUIRER_NICKNAME_AS_GIVEN) {
                if let Some(nick) = w.write(rng, Tok::Short(pool, kid.given)) {
                    given_name = nick;
                    noise.push(Noise::NicknameAsGiven);
                    if rng.gen_bool(0.5) {
                        other_names.push(full_given);
                    }
                }
            } else if rng.gen_bool(INQUIRER_NICKNAME_OTHER) {
                other_names.extend(w.write(rng, Tok::Short(pool, kid.given)));
            }
            let drop_gf = rng.gen_bool(INQUIRER_DROP_GRANDFATHER);
            let drop_father = c.is_chain() && rng.gen_bool(INQUIRER_DROP_FATHER);
            let swap = !drop_gf && !drop_father && rng.gen_bool(INQUIRER_SWAP_CHAIN);
            let pat = rng.gen_bool(INQUIRER_PATRONYMIC);
            let mut toks = family_toks(house, kid.female, drop_gf && !drop_father, pat, swap);
            if drop_father {
                toks.remove(0);
                noise.push(Noise::DroppedFather);
            } else if drop_gf && c.is_chain() {
                noise.push(Noise::DroppedGrandfather);
            }
            if swap && c.is_chain() {
                noise.push(Noise::ChainReordered);
            }
            let mut family_name = w.write_all(rng, &toks);
            shift_fields(
                rng,
                &mut given_name,
                &mut family_name,
                INQUIRER_FULL_NAME_IN_GIVEN,
                INQUIRER_SWAP_GIVEN_FAMILY,
                &mut noise,
            );
            if w.take_slips() > 0 {
                noise.push(Noise::Typo);
            }
            let sex = recorded_sex(rng, kid.female, INQUIRER_SEX_UNKNOWN, INQUIRER_SEX_WRONG);
            let (age_estimate, birth_date) =
                remembered_age(rng, kid.born, house.separated, filed_on, parent, &mut noise);
            noise.sort_unstable();
            noise.dedup();
            let n_districts = region.districts.len();
            let last_seen_place = match weighted_index(rng, &[45.0, 25.0, 15.0, 10.0, 5.0]) {
                0 => place_path(&w, house.region, house.district, 3),
                1 => {
                    let other =
                        (house.district + rng.gen_range(1..n_districts.max(2))) % n_districts;
                    place_path(&w, house.region, other, 3)
                }
                2 => place_path(&w, house.region, house.district, 2),
                3 => place_path(&w, house.region, house.district, 1),
                _ => Vec::new(),
            };
            SoughtChild {
                person: kid.registered.then_some(p),
                individual: p,
                given_name,
                family_name,
                other_names,
                sex,
                age_estimate,
                birth_date,
                last_seen_place,
                separated_on,
                circumstances: circumstances.clone(),
                noise,
            }
        })
        .collect();

    TracingRequest {
        inquirer: Inquirer {
            given_name,
            family_name,
            relation: rel,
            place,
        },
        filed_on,
        sought,
    }
}
