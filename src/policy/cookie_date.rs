//! Cookie date parsing (simple token scan; superseded by the RFC 6265 algorithm).
pub fn parse(s: &str) -> Option<i64> {
    let toks: Vec<&str> = s
        .split(|c: char| !c.is_ascii_alphanumeric() && c != ':')
        .filter(|t| !t.is_empty())
        .collect();
    let (mut t, mut d, mut mo, mut y) = (None, None, None, None);
    for tok in toks {
        if t.is_none() && tok.contains(':') {
            let p: Vec<i64> = tok.split(':').filter_map(|x| x.parse().ok()).collect();
            if p.len() == 3 {
                t = Some(p[0] * 3600 + p[1] * 60 + p[2]);
                continue;
            }
        }
        if d.is_none() && tok.len() <= 2 && tok.chars().all(|c| c.is_ascii_digit()) {
            d = tok.parse::<i64>().ok();
            continue;
        }
        if mo.is_none() && tok.len() >= 3 {
            let m = [
                "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
            ]
            .iter()
            .position(|m| tok[..3].eq_ignore_ascii_case(m));
            if let Some(m) = m {
                mo = Some(m as i64 + 1);
                continue;
            }
        }
        if y.is_none()
            && tok.len() >= 2
            && tok.len() <= 4
            && tok.chars().all(|c| c.is_ascii_digit())
        {
            let mut v: i64 = tok.parse().ok()?;
            if v < 70 {
                v += 2000
            } else if v < 100 {
                v += 1900
            }
            y = Some(v);
        }
    }
    let (t, d, m, y) = (t?, d?, mo?, y?);
    let (yy, mm) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * mm + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146097 + doe - 719468) * 86400 + t)
}
