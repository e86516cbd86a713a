//! Dates as participants read them: "Freitag, 12. Dezember, 16 Uhr" / "Friday 12 December,
//! 4 pm". jiff formats English names only, and participants should not have to decode
//! "2025-12-12T15:00:00Z", so the words are here.

use jiff::Zoned;
use jiff::civil::Weekday;

use crate::lang::Lang;

const MONTHS_DE: [&str; 12] = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn weekday(w: Weekday, lang: Lang) -> &'static str {
    let (de, en) = match w {
        Weekday::Monday => ("Montag", "Monday"),
        Weekday::Tuesday => ("Dienstag", "Tuesday"),
        Weekday::Wednesday => ("Mittwoch", "Wednesday"),
        Weekday::Thursday => ("Donnerstag", "Thursday"),
        Weekday::Friday => ("Freitag", "Friday"),
        Weekday::Saturday => ("Samstag", "Saturday"),
        Weekday::Sunday => ("Sonntag", "Sunday"),
    };
    lang.pick(de, en)
}

fn month(m: i8, lang: Lang) -> &'static str {
    let i = usize::try_from(m.saturating_sub(1)).unwrap_or(0).min(11);
    match lang {
        Lang::De => MONTHS_DE[i],
        Lang::En => MONTHS_EN[i],
    }
}

/// The time of day: "16 Uhr", "16:30 Uhr" / "4 pm", "4:30 pm", "12 noon" is "12 pm".
fn time(z: &Zoned, lang: Lang) -> String {
    let (h, m) = (z.hour(), z.minute());
    match lang {
        Lang::De if m == 0 => format!("{h} Uhr"),
        Lang::De => format!("{h}:{m:02} Uhr"),
        Lang::En => {
            let (h12, ampm) = match h {
                0 => (12, "am"),
                1..=11 => (h, "am"),
                12 => (12, "pm"),
                _ => (h - 12, "pm"),
            };
            if m == 0 {
                format!("{h12} {ampm}")
            } else {
                format!("{h12}:{m:02} {ampm}")
            }
        }
    }
}

/// A deadline with weekday, day, month and time: "Freitag, 12. Dezember, 16 Uhr" /
/// "Friday 12 December, 4 pm" (the year only when it is not `this_year`).
pub fn deadline(z: &Zoned, this_year: i16, lang: Lang) -> String {
    let year = if z.year() == this_year {
        String::new()
    } else {
        format!(" {}", z.year())
    };
    match lang {
        Lang::De => format!(
            "{}, {}. {}{year}, {}",
            weekday(z.weekday(), lang),
            z.day(),
            month(z.month(), lang),
            time(z, lang)
        ),
        Lang::En => format!(
            "{} {} {}{year}, {}",
            weekday(z.weekday(), lang),
            z.day(),
            month(z.month(), lang),
            time(z, lang)
        ),
    }
}

/// A date and time as people write it, in `tz`: "2. Dezember 2026, 14:05 Uhr" /
/// "2 December 2026, 2:05 pm" (always with minutes, for records like a consent).
pub fn date_time(t: jiff::Timestamp, tz: &jiff::tz::TimeZone, lang: Lang) -> String {
    let z = t.to_zoned(tz.clone());
    let (h, m) = (z.hour(), z.minute());
    match lang {
        Lang::De => format!(
            "{}. {} {}, {h}:{m:02} Uhr",
            z.day(),
            month(z.month(), lang),
            z.year()
        ),
        Lang::En => {
            let h12 = match h % 12 {
                0 => 12,
                x => x,
            };
            let ampm = if h < 12 { "am" } else { "pm" };
            format!(
                "{} {} {}, {h12}:{m:02} {ampm}",
                z.day(),
                month(z.month(), lang),
                z.year()
            )
        }
    }
}

/// [`date_time`] with the weekday in front: "Freitag, 4. Dezember 2026, 16:00 Uhr".
pub fn weekday_date_time(t: jiff::Timestamp, tz: &jiff::tz::TimeZone, lang: Lang) -> String {
    let day = weekday(t.to_zoned(tz.clone()).weekday(), lang);
    format!("{day}, {}", date_time(t, tz, lang))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn z(s: &str) -> Zoned {
        s.parse().expect("a zoned time")
    }

    #[test]
    fn deadlines_read_like_a_person_writes_them() {
        let t = z("2025-12-12T16:00:00+01:00[Europe/Berlin]");
        assert_eq!(
            deadline(&t, 2025, Lang::De),
            "Freitag, 12. Dezember, 16 Uhr"
        );
        assert_eq!(deadline(&t, 2025, Lang::En), "Friday 12 December, 4 pm");
        let t = z("2026-03-02T09:30:00+01:00[Europe/Berlin]");
        assert_eq!(
            deadline(&t, 2025, Lang::De),
            "Montag, 2. März 2026, 9:30 Uhr"
        );
        assert_eq!(deadline(&t, 2025, Lang::En), "Monday 2 March 2026, 9:30 am");
        let t = z("2026-03-02T00:05:00+01:00[Europe/Berlin]");
        assert_eq!(deadline(&t, 2026, Lang::En), "Monday 2 March, 12:05 am");
    }
}
