//! SQL conditions assembled for the criteria actually given, with their bound values. Lists
//! with optional filters build their `WHERE` from these rather than `($n IS NULL OR col = $n)`
//! guards, which no planner can serve from an index: each shape of criteria gets its own
//! statement, and its index.

/// A value bound to a numbered placeholder of assembled SQL.
#[derive(Debug, Clone)]
pub enum Arg {
    Int(i64),
    Text(String),
    Bool(bool),
}

/// Assembled SQL conditions with their bound values (`$1`, `$2`… in order).
#[derive(Debug, Default)]
pub struct Conditions {
    pub sql: Vec<String>,
    pub args: Vec<Arg>,
}

impl Conditions {
    /// Binds `a` and returns its placeholder.
    pub fn bind(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }

    pub fn push(&mut self, condition: impl Into<String>) {
        self.sql.push(condition.into());
    }

    pub fn where_clause(&self) -> String {
        self.sql.join(" AND ")
    }
}

/// Binds `$args` in order on the query `$q` (run inside `on_db!`/`on_tx!`).
macro_rules! bind_all {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                $crate::db::conditions::Arg::Int(v) => q.bind(*v),
                $crate::db::conditions::Arg::Text(v) => q.bind(v.as_str()),
                $crate::db::conditions::Arg::Bool(v) => q.bind(*v),
            };
        }
        q
    }};
}
pub(crate) use bind_all;
