//! The two guards between a model and Snowflake: [`quote_ident`], the one function that turns a
//! name into SQL (validated and double-quoted, never concatenated raw), and [`check_read_only`],
//! which classifies a statement before it is submitted.
//!
//! The read-only check tokenises the statement the way Snowflake does — `--` and `//` line
//! comments, `/* */` block comments, `'…'` strings with `''` and backslash escapes, `$$…$$`
//! strings, `"…"` identifiers with `""` — so keywords inside comments or literals never count and
//! a `;` inside a literal is not a statement separator. Requests also carry
//! `MULTI_STATEMENT_COUNT=1`, so Snowflake itself refuses a second statement we missed.

use mcp_core::ToolError;

/// Longest identifier Snowflake accepts.
pub const MAX_IDENT_CHARS: usize = 255;

/// Validate `name` and return it as one double-quoted Snowflake identifier (case-sensitive,
/// exactly as given; `"` doubled). Refuses empty names, names longer than 255 characters and
/// control characters. This is the only way a name enters SQL text.
pub fn quote_ident(what: &str, name: &str) -> Result<String, ToolError> {
    if name.is_empty() {
        return Err(ToolError::InvalidInput(format!("{what} is empty")));
    }
    if name.chars().count() > MAX_IDENT_CHARS {
        return Err(ToolError::InvalidInput(format!(
            "{what} is longer than {MAX_IDENT_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(ToolError::InvalidInput(format!(
            "{what} contains a control character"
        )));
    }
    Ok(format!("\"{}\"", name.replace('"', "\"\"")))
}

/// `"DB"."SCHEMA"."NAME"` from parts, each through [`quote_ident`].
pub fn qualified(parts: &[(&str, &str)]) -> Result<String, ToolError> {
    let quoted: Result<Vec<String>, ToolError> =
        parts.iter().map(|(what, n)| quote_ident(what, n)).collect();
    Ok(quoted?.join("."))
}

/// One lexical token of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A keyword or unquoted identifier, upper-cased.
    Word(String),
    /// A double-quoted identifier (content, unescaped).
    Quoted(String),
    /// A string literal (content irrelevant).
    Literal,
    /// A number.
    Number,
    /// Any other symbol; `;`, `(`, `)`, `,` matter.
    Symbol(char),
}

/// Split `sql` into tokens, dropping comments. Fails on an unterminated literal or comment.
pub fn tokenize(sql: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if (c == '-' && next == Some('-')) || (c == '/' && next == Some('/')) {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            loop {
                if i + 1 >= chars.len() {
                    return Err("a /* comment is not closed".into());
                }
                if chars[i] == '*' && chars[i + 1] == '/' {
                    i += 2;
                    break;
                }
                i += 1;
            }
        } else if c == '\'' {
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("a string literal is not closed".into()),
                    Some('\\') => i += 2,
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => i += 2,
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(_) => i += 1,
                }
            }
            out.push(Token::Literal);
        } else if c == '$' && next == Some('$') {
            i += 2;
            loop {
                if i + 1 >= chars.len() {
                    return Err("a $$ string is not closed".into());
                }
                if chars[i] == '$' && chars[i + 1] == '$' {
                    i += 2;
                    break;
                }
                i += 1;
            }
            out.push(Token::Literal);
        } else if c == '"' {
            i += 1;
            let mut name = String::new();
            loop {
                match chars.get(i) {
                    None => return Err("a quoted identifier is not closed".into()),
                    Some('"') if chars.get(i + 1) == Some(&'"') => {
                        name.push('"');
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        name.push(*ch);
                        i += 1;
                    }
                }
            }
            out.push(Token::Quoted(name));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            out.push(Token::Word(word.to_uppercase()));
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            out.push(Token::Number);
        } else {
            out.push(Token::Symbol(c));
            i += 1;
        }
    }
    Ok(out)
}

/// Statement kinds `execute_query` runs.
const READ_KINDS: [&str; 6] = ["SELECT", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "WITH"];

/// `SYSTEM$` functions that only read; every other `SYSTEM$` function may change state
/// (`SYSTEM$CANCEL_QUERY`, `SYSTEM$ABORT_SESSION`, …) and is refused in read-only queries.
const READ_ONLY_SYSTEM_FUNCTIONS: [&str; 16] = [
    "SYSTEM$TYPEOF",
    "SYSTEM$CLUSTERING_INFORMATION",
    "SYSTEM$CLUSTERING_DEPTH",
    "SYSTEM$CLUSTERING_RATIO",
    "SYSTEM$EXPLAIN_PLAN_JSON",
    "SYSTEM$EXPLAIN_JSON_TO_TEXT",
    "SYSTEM$GET_TAG",
    "SYSTEM$GET_TAG_ALLOWED_VALUES",
    "SYSTEM$PIPE_STATUS",
    "SYSTEM$STREAM_HAS_DATA",
    "SYSTEM$ALLOWLIST",
    "SYSTEM$WHITELIST",
    "SYSTEM$ESTIMATE_QUERY_ACCELERATION",
    "SYSTEM$ESTIMATE_SEARCH_OPTIMIZATION_COSTS",
    "SYSTEM$BEHAVIOR_CHANGE_BUNDLE_STATUS",
    "SYSTEM$GET_PRIVATELINK_CONFIG",
];

/// What a statement is, for the write tool's report.
pub fn statement_kind(sql: &str) -> Option<String> {
    tokenize(sql).ok()?.into_iter().find_map(|t| match t {
        Token::Word(w) => Some(w),
        _ => None,
    })
}

/// Refuse an empty statement or more than one statement (one trailing `;` is fine).
pub fn check_single(sql: &str) -> Result<Vec<Token>, ToolError> {
    let mut tokens = tokenize(sql).map_err(ToolError::InvalidInput)?;
    while tokens.last() == Some(&Token::Symbol(';')) {
        tokens.pop();
    }
    if tokens.is_empty() {
        return Err(ToolError::InvalidInput("the statement is empty".into()));
    }
    if tokens.contains(&Token::Symbol(';')) {
        return Err(ToolError::Forbidden(
            "more than one statement; send one statement per call".into(),
        ));
    }
    Ok(tokens)
}

/// Check that `sql` is one read-only statement: SELECT, SHOW, DESCRIBE/DESC, EXPLAIN, or
/// WITH … SELECT; no side-effecting `SYSTEM$` function, no sequence `NEXTVAL`.
pub fn check_read_only(sql: &str) -> Result<(), ToolError> {
    let tokens = check_single(sql)?;
    // The flow operator `->>` chains statements (`SHOW … ->> SELECT … FROM $1`): every
    // statement of the chain must be read-only.
    let mut segments: Vec<&[Token]> = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i] == Token::Symbol('-')
            && tokens.get(i + 1) == Some(&Token::Symbol('>'))
            && tokens.get(i + 2) == Some(&Token::Symbol('>'))
        {
            segments.push(&tokens[start..i]);
            i += 3;
            start = i;
        } else {
            i += 1;
        }
    }
    segments.push(&tokens[start..]);
    segments.into_iter().try_for_each(check_segment)
}

fn check_segment(tokens: &[Token]) -> Result<(), ToolError> {
    let refuse = |why: String| {
        Err(ToolError::Forbidden(format!(
            "{why}; execute_query runs only SELECT, SHOW, DESCRIBE, EXPLAIN and WITH … SELECT"
        )))
    };
    // Leading parentheses: `(SELECT …) UNION (SELECT …)`.
    let first = tokens.iter().find(|t| **t != Token::Symbol('('));
    let kind = match first {
        Some(Token::Word(w)) => w.clone(),
        _ => return refuse("the statement does not start with a keyword".into()),
    };
    if !READ_KINDS.contains(&kind.as_str()) {
        return refuse(format!("{kind} is not a read-only statement"));
    }
    if kind == "WITH" {
        let main = with_main_keyword(tokens);
        match main.as_deref() {
            Some("SELECT") => {}
            Some(other) => return refuse(format!("WITH … {other} is not a read-only statement")),
            None => return refuse("the WITH clause is not followed by a SELECT".into()),
        }
    }
    if kind != "EXPLAIN" {
        for t in tokens {
            if let Token::Word(w) = t {
                if w.starts_with("SYSTEM$") && !READ_ONLY_SYSTEM_FUNCTIONS.contains(&w.as_str()) {
                    return refuse(format!("{w} can change state"));
                }
                if w == "NEXTVAL" {
                    return refuse("NEXTVAL advances a sequence".into());
                }
            }
        }
    }
    Ok(())
}

/// The keyword of the statement a `WITH` clause introduces:
/// `WITH [RECURSIVE] name [(cols)] AS (…) [, name [(cols)] AS (…)]* <main>`.
fn with_main_keyword(tokens: &[Token]) -> Option<String> {
    let mut i = tokens
        .iter()
        .position(|t| *t == Token::Word("WITH".into()))?
        + 1;
    if tokens.get(i) == Some(&Token::Word("RECURSIVE".into())) {
        i += 1;
    }
    loop {
        // name
        match tokens.get(i)? {
            Token::Word(_) | Token::Quoted(_) => i += 1,
            _ => return None,
        }
        // optional column list
        if tokens.get(i) == Some(&Token::Symbol('(')) {
            i = skip_group(tokens, i)?;
        }
        if tokens.get(i) != Some(&Token::Word("AS".into())) {
            return None;
        }
        i += 1;
        if tokens.get(i) != Some(&Token::Symbol('(')) {
            return None;
        }
        i = skip_group(tokens, i)?;
        if tokens.get(i) == Some(&Token::Symbol(',')) {
            i += 1;
            continue;
        }
        break;
    }
    let rest = tokens.get(i..)?;
    rest.iter()
        .find(|t| **t != Token::Symbol('('))
        .and_then(|t| match t {
            Token::Word(w) => Some(w.clone()),
            _ => None,
        })
}

/// Index after the parenthesised group that opens at `start`.
fn skip_group(tokens: &[Token], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, t) in tokens.iter().enumerate().skip(start) {
        match t {
            Token::Symbol('(') => depth += 1,
            Token::Symbol(')') => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(sql: &str) {
        assert!(
            check_read_only(sql).is_ok(),
            "should pass: {sql}: {:?}",
            check_read_only(sql)
        );
    }

    fn refused(sql: &str) -> String {
        match check_read_only(sql) {
            Ok(()) => panic!("should be refused: {sql}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn reads_pass_in_any_case_with_comments_and_literals() {
        ok("SELECT 1");
        ok("select * from t where x = 'drop table y; delete from z'");
        ok("  -- delete\n/* insert into t */ select 1;");
        ok("// update t\nshow warehouses");
        ok("desc table \"a;b\"");
        ok("DESCRIBE TABLE t");
        ok("explain using text delete from t");
        ok("with a as (select 1), b (x) as (select 2) select * from a, b");
        ok("WITH RECURSIVE r AS (SELECT 1 UNION ALL SELECT 1 FROM r) SELECT * FROM r");
        ok("(select 1) union (select 2)");
        ok("select $$ ; drop table x $$ as s");
        ok("select 'it''s; fine', 'back\\'slash; x'");
        ok("select system$typeof(1)");
        ok("select 1;  -- trailing comment");
        ok("show warehouses ->> select \"name\" from $1 where \"state\" = 'STARTED'");
        ok("select a - >b from t");
    }

    #[test]
    fn writes_and_tricks_are_refused() {
        assert!(refused("delete from t").contains("DELETE is not a read-only"));
        assert!(refused("insert into t values (1)").contains("INSERT"));
        assert!(refused("/* select */ update t set x = 1").contains("UPDATE"));
        assert!(refused("-- select\ndrop table t").contains("DROP"));
        assert!(refused("select 1; drop table t").contains("more than one statement"));
        assert!(refused("select 1;;select 2").contains("more than one statement"));
        assert!(refused("with x as (select 1) delete from t").contains("WITH … DELETE"));
        assert!(refused("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x").contains("INSERT"));
        assert!(refused("with x as (select 1) merge into t using x on 1=1").contains("MERGE"));
        assert!(refused("with x as (select 1) update t set a = 1").contains("UPDATE"));
        assert!(refused("with x as (select 1)").contains("not followed"));
        assert!(refused("sElEcT SYSTEM$CANCEL_QUERY('01b')").contains("SYSTEM$CANCEL_QUERY"));
        assert!(refused("select seq.nextval").contains("NEXTVAL"));
        assert!(refused("call proc()").contains("CALL"));
        assert!(refused("use role accountadmin").contains("USE"));
        assert!(refused("alter warehouse w suspend").contains("ALTER"));
        assert!(refused("grant role r to user u").contains("GRANT"));
        assert!(refused("select 'unterminated").contains("not closed"));
        assert!(refused("select 1 /* open").contains("not closed"));
        assert!(refused("   ").contains("empty"));
        assert!(
            refused("; select 1").contains("more than one statement")
                || refused("; select 1").contains("keyword")
        );
        assert!(refused("'select' delete").contains("keyword"));
        assert!(refused("show tables ->> delete from t").contains("DELETE"));
        assert!(refused("select 1 ->> select 2 ->> drop table t").contains("DROP"));
        assert!(refused("select 1 ->>").contains("keyword"));
    }

    #[test]
    fn identifiers_are_quoted_and_injection_stays_inside_one_name() {
        assert_eq!(quote_ident("table", "ORDERS").unwrap(), "\"ORDERS\"");
        assert_eq!(quote_ident("table", "my table").unwrap(), "\"my table\"");
        let evil = "x\"; DROP TABLE t; --";
        let q = quote_ident("table", evil).unwrap();
        assert_eq!(q, "\"x\"\"; DROP TABLE t; --\"");
        // The quoted name is exactly one token, whose content is the original name.
        let sql = format!("SELECT * FROM {q}");
        let tokens = tokenize(&sql).unwrap();
        assert_eq!(tokens.len(), 4, "{tokens:?}");
        assert_eq!(tokens[3], Token::Quoted(evil.to_string()));
        assert!(check_read_only(&sql).is_ok());
        for bad in ["", "a\nb", "a\0b", "tab\there"] {
            assert!(quote_ident("table", bad).is_err(), "{bad:?}");
        }
        assert!(quote_ident("table", &"x".repeat(256)).is_err());
        assert!(quote_ident("table", &"x".repeat(255)).is_ok());
        let q = qualified(&[("database", "d\"b"), ("schema", "s"), ("table", "t.x")]).unwrap();
        assert_eq!(q, "\"d\"\"b\".\"s\".\"t.x\"");
        assert_eq!(tokenize(&q).unwrap().len(), 5);
    }
}
