//! Who is in the simulated enterprise: three properties in three time zones
//! (SPEC §22), players, staff of every kind (with and without each
//! permission, at one property or at every one, inactive, one who is also a
//! player), and the settings the run starts from.

use postgres::Client;

/// The properties: code and time zone. Las Vegas and Tokyo lie 17 hours
/// apart, across midnight UTC from each other; the install's MAIN is closed.
pub const PROPERTIES: [(&str, &str); 3] = [
    ("LV-STRIP", "America/Los_Angeles"),
    ("TOKYO", "Asia/Tokyo"),
    ("LONDON", "Europe/London"),
];

/// A staff member: id, what they hold, and where (None: every property).
#[derive(Debug, Clone)]
pub struct Staff {
    pub id: String,
    pub role: &'static str,
    pub permissions: &'static [&'static str],
    pub active: bool,
    pub home: Option<usize>,
}

impl Staff {
    /// Holds `permission` at some property.
    pub fn holds(&self, permission: &str) -> bool {
        self.active && self.permissions.contains(&permission)
    }

    /// Holds `permission` at `property` (index into [`PROPERTIES`]).
    pub fn holds_at(&self, permission: &str, property: usize) -> bool {
        self.holds(permission) && self.home.is_none_or(|h| h == property)
    }
}

pub struct World {
    pub players: Vec<String>,
    pub staff: Vec<Staff>,
    pub basis: &'static str,
}

pub const PLAYERS: usize = 16;

/// The daily approval threshold the run starts with.
pub const DAILY_THRESHOLD: i64 = 40_000;

fn uuid(kind: u32, n: usize) -> String {
    format!("5151{kind:04x}-0000-4000-8000-{n:012x}")
}

impl World {
    pub fn new(seed: u64) -> World {
        let players: Vec<String> = (0..PLAYERS).map(|n| uuid(1, n)).collect();
        let roster: &[(&'static str, &'static [&'static str], bool, usize)] = &[
            ("floor", &["loyalty:rate"], true, 3),
            ("approver", &["loyalty:approve"], true, 2),
            ("awarder", &["loyalty:award"], true, 3),
            ("cashier", &["loyalty:redeem"], true, 3),
            ("recoverer", &["loyalty:recover"], true, 1),
            ("viewer", &["loyalty:view_all"], true, 1),
            ("nobody", &[], true, 1),
            (
                "inactive",
                &["loyalty:rate", "loyalty:award", "loyalty:redeem"],
                false,
                1,
            ),
        ];
        let mut staff = Vec::new();
        for (role, permissions, active, count) in roster {
            for i in 0..*count {
                let n = staff.len();
                // the floor, hosts and cashiers work at one property each;
                // one approver approves everywhere, the other in Las Vegas
                let home = match *role {
                    "floor" | "awarder" | "cashier" => Some(i % PROPERTIES.len()),
                    "approver" if i > 0 => Some(0),
                    _ => None,
                };
                staff.push(Staff {
                    id: uuid(2, n),
                    role,
                    permissions,
                    active: *active,
                    home,
                });
            }
        }
        // player 0 works the floor too: every call of theirs for themselves
        // is self-dealing
        staff.push(Staff {
            id: players[0].clone(),
            role: "player-staff",
            permissions: &["loyalty:rate", "loyalty:award", "loyalty:redeem"],
            active: true,
            home: None,
        });
        World {
            players,
            staff,
            basis: if seed.is_multiple_of(2) {
                "LIFETIME"
            } else {
                "PERIOD"
            },
        }
    }

    /// The code of property `i`.
    pub fn property(&self, i: usize) -> &'static str {
        PROPERTIES[i % PROPERTIES.len()].0
    }

    /// The staff (indexes) of a role.
    pub fn with_role(&self, role: &str) -> Vec<usize> {
        (0..self.staff.len())
            .filter(|i| self.staff[*i].role == role)
            .collect()
    }

    /// The properties, the staff rows, the starting settings and every
    /// player's opening balance (a DIRECT_INCREMENT each), as the owner.
    pub fn setup(&self, c: &mut Client) {
        for (code, zone) in PROPERTIES {
            c.execute(
                "SELECT loyalty.upsert_property($1::text, $1::text, $2::text, '06:00', p_correlation_id => 'sim:setup')",
                &[&code, &zone],
            )
            .expect("add property");
        }
        c.batch_execute("SELECT loyalty.upsert_property('MAIN', p_active => false, p_correlation_id => 'sim:setup')")
            .expect("close MAIN");
        for s in &self.staff {
            let perms: Vec<String> = s.permissions.iter().map(|p| p.to_string()).collect();
            let everywhere: Vec<String> = if s.home.is_none() {
                perms.clone()
            } else {
                Vec::new()
            };
            c.execute(
                "INSERT INTO loyalty.staff (staff_id, permissions, active) VALUES ($1::text::uuid, $2, $3)",
                &[&s.id, &everywhere, &s.active],
            )
            .expect("add staff");
            if let Some(h) = s.home {
                c.execute(
                    "INSERT INTO loyalty.staff_property (staff_id, property_id, permissions)
                     VALUES ($1::text::uuid, $2::text, $3)",
                    &[&s.id, &self.property(h), &perms],
                )
                .expect("add staff at a property");
            }
        }
        c.batch_execute(&format!(
            "SELECT loyalty.configure(p_rate_limit_count => 300, p_alert_reward_count => 400,
                    p_daily_approval_threshold_points => {}, p_redemption_approval_points => 3000,
                    p_max_redemption_points => 20000, p_points_inactivity_expiry => '90 days',
                    p_expiry_warning => '10 days', p_tier_basis => '{}', p_correlation_id => 'sim:setup')",
            DAILY_THRESHOLD, self.basis
        ))
        .expect("configure");
        for p in &self.players {
            c.execute(
                "SELECT * FROM loyalty.increment_player_loyalty($1::text::uuid, 20000, 'sim:opening')",
                &[p],
            )
            .expect("opening balance");
        }
    }
}
