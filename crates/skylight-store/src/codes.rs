//! How the model's enums are stored: small integers, stable across versions (see the comment at
//! the top of migration 0002).

use skylight_model::{ActivityColumns, ActorKind, App, Category, Outcome};

/// Stored code of an app.
pub fn app(a: App) -> i64 {
    App::ALL
        .iter()
        .position(|x| *x == a)
        .map_or(0, |p| p as i64 + 1)
}

/// The app of a stored code.
pub fn app_of(code: i64) -> Option<App> {
    usize::try_from(code - 1)
        .ok()
        .and_then(|i| App::ALL.get(i).copied())
}

/// Stored code of a category.
pub fn category(c: Category) -> i64 {
    Category::ALL
        .iter()
        .position(|x| *x == c)
        .map_or(0, |p| p as i64 + 1)
}

/// The category of a stored code.
pub fn category_of(code: i64) -> Option<Category> {
    usize::try_from(code - 1)
        .ok()
        .and_then(|i| Category::ALL.get(i).copied())
}

/// Stored code of an actor kind.
pub fn actor_kind(k: ActorKind) -> i64 {
    match k {
        ActorKind::User => 1,
        ActorKind::Admin => 2,
        ActorKind::External => 3,
        ActorKind::System => 4,
        ActorKind::Application => 5,
        ActorKind::Unknown => 6,
    }
}

/// The actor kind of a stored code.
pub fn actor_kind_of(code: i64) -> Option<ActorKind> {
    [
        ActorKind::User,
        ActorKind::Admin,
        ActorKind::External,
        ActorKind::System,
        ActorKind::Application,
        ActorKind::Unknown,
    ]
    .into_iter()
    .find(|k| actor_kind(*k) == code)
}

/// The outcome of a stored code.
pub fn outcome_of(code: i64) -> Option<Outcome> {
    [Outcome::Success, Outcome::Failure, Outcome::Unknown]
        .into_iter()
        .find(|o| outcome(*o) == code)
}

/// Stored code of an outcome.
pub fn outcome(o: Outcome) -> i64 {
    match o {
        Outcome::Success => 1,
        Outcome::Failure => 2,
        Outcome::Unknown => 3,
    }
}

/// Flag bit: an administrative activity.
pub const FLAG_ADMIN: i64 = 1;
/// Flag bit: an external user.
pub const FLAG_EXTERNAL: i64 = 2;
/// Flag bit: impersonation.
pub const FLAG_IMPERSONATED: i64 = 4;

/// Stored flag bits of an activity.
pub fn flags(a: &ActivityColumns) -> i64 {
    let bit = |on: bool, flag: i64| if on { flag } else { 0 };
    bit(a.admin, FLAG_ADMIN)
        | bit(a.external_user, FLAG_EXTERNAL)
        | bit(a.impersonated, FLAG_IMPERSONATED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_codes_do_not_move() {
        assert_eq!(app(App::Exchange), 1);
        assert_eq!(app(App::EntraId), 5);
        assert_eq!(app(App::Unknown), 25);
        assert_eq!(category(Category::Login), 1);
        assert_eq!(category(Category::Other), 26);
        for a in App::ALL {
            assert_eq!(app_of(app(a)), Some(a));
        }
        for c in Category::ALL {
            assert_eq!(category_of(category(c)), Some(c));
        }
        for k in [
            ActorKind::User,
            ActorKind::Admin,
            ActorKind::External,
            ActorKind::System,
            ActorKind::Application,
            ActorKind::Unknown,
        ] {
            assert_eq!(actor_kind_of(actor_kind(k)), Some(k));
        }
        for o in [Outcome::Success, Outcome::Failure, Outcome::Unknown] {
            assert_eq!(outcome_of(outcome(o)), Some(o));
        }
        assert_eq!((actor_kind_of(0), outcome_of(9)), (None, None));
        assert_eq!(app_of(0), None);
        assert_eq!(category_of(99), None);
    }
}
