//! A grant's rate limit: `10/s`, `600/min`, `1/h`.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

use governor::Quota;

use crate::error::{Error, Result};

/// A rate limit: at most `count` calls per `period`, with bursts of up to `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Calls allowed per period.
    pub count: u32,
    /// The period.
    pub period: Duration,
}

impl Rate {
    /// `count` calls per second.
    pub fn per_second(count: u32) -> Rate {
        Rate {
            count,
            period: Duration::from_secs(1),
        }
    }

    pub(super) fn quota(&self) -> Quota {
        let count = NonZeroU32::new(self.count.max(1)).unwrap_or(NonZeroU32::MIN);
        let replenish = self.period / count.get();
        Quota::with_period(replenish.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| Quota::per_second(count))
            .allow_burst(count)
    }
}

impl FromStr for Rate {
    type Err = Error;

    /// Reads `10/s`, `600/min`, `100/h` or `1000/d`.
    fn from_str(text: &str) -> Result<Rate> {
        let bad = || {
            Error::Invalid(format!(
                "rate {text:?} is not of the form COUNT/UNIT, e.g. 10/s, 600/min, 100/h or 1000/d"
            ))
        };
        let (count, unit) = text.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        if count == 0 {
            return Err(Error::Invalid(format!(
                "rate {text:?} allows no calls at all: revoke the grant instead"
            )));
        }
        let period = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            "d" | "day" => Duration::from_secs(86_400),
            _ => return Err(bad()),
        };
        Ok(Rate { count, period })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.period.as_secs() {
            1 => "s",
            60 => "min",
            3600 => "h",
            86_400 => "d",
            _ => return write!(f, "{}/{}s", self.count, self.period.as_secs()),
        };
        write!(f, "{}/{unit}", self.count)
    }
}
