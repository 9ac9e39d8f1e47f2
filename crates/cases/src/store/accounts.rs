//! [`crate::Accounts`] on the SQL stores: the same queries for SQLite and Postgres.

/// Stamps out `impl Accounts for $store` over `self.pool`.
macro_rules! sql_accounts {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::Accounts for $store {
            async fn set_agent(
                &self,
                login: &str,
                display_name: &str,
                password: &str,
            ) -> Result<$crate::Agent, $crate::Error> {
                $crate::accounts::valid_login(login)?;
                $crate::accounts::valid_name(display_name)?;
                let hash = $crate::accounts::hash_password(password).await?;
                let now = $crate::store::sql::now();
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO case_agents (login, display_name, password_hash, created_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (login) DO UPDATE \
                     SET display_name = excluded.display_name, password_hash = excluded.password_hash",
                )
                .bind(login)
                .bind(display_name.trim())
                .bind(&hash)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM case_sessions WHERE agent_id = $1")
                    .bind(format!("agent:{login}"))
                    .execute(&mut *tx)
                    .await?;
                let created_at: time::OffsetDateTime =
                    sqlx::query_scalar("SELECT created_at FROM case_agents WHERE login = $1")
                        .bind(login)
                        .fetch_one(&mut *tx)
                        .await?;
                tx.commit().await?;
                Ok($crate::Agent {
                    login: login.to_owned(),
                    display_name: display_name.trim().to_owned(),
                    created_at,
                })
            }

            async fn remove_agent(&self, login: &str) -> Result<bool, $crate::Error> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM case_sessions WHERE agent_id = $1")
                    .bind(format!("agent:{login}"))
                    .execute(&mut *tx)
                    .await?;
                let gone = sqlx::query("DELETE FROM case_agents WHERE login = $1")
                    .bind(login)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(gone > 0)
            }

            async fn agents(&self) -> Result<Vec<$crate::Agent>, $crate::Error> {
                let rows: Vec<(String, String, time::OffsetDateTime)> = sqlx::query_as(
                    "SELECT login, display_name, created_at FROM case_agents ORDER BY login",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(login, display_name, created_at)| $crate::Agent {
                        login,
                        display_name,
                        created_at,
                    })
                    .collect())
            }

            async fn check_password(
                &self,
                login: &str,
                password: &str,
            ) -> Result<Option<$crate::Agent>, $crate::Error> {
                let row: Option<(String, String, time::OffsetDateTime)> = sqlx::query_as(
                    "SELECT display_name, password_hash, created_at FROM case_agents WHERE login = $1",
                )
                .bind(login)
                .fetch_optional(&self.pool)
                .await?;
                let (hash, agent) = match row {
                    Some((display_name, hash, created_at)) => (
                        Some(hash),
                        Some($crate::Agent { login: login.to_owned(), display_name, created_at }),
                    ),
                    None => (None, None),
                };
                let ok = $crate::accounts::verify_password(password, hash).await;
                Ok(agent.filter(|_| ok))
            }

            async fn start_session(
                &self,
                agent_id: &str,
                agent_name: &str,
                expires_at: time::OffsetDateTime,
            ) -> Result<(String, $crate::Session), $crate::Error> {
                let cookie = $crate::accounts::random_token(32)?;
                let csrf = $crate::accounts::random_token(24)?;
                let expires_at = $crate::store::sql::stored_time(expires_at);
                sqlx::query(
                    "INSERT INTO case_sessions (token_hash, agent_id, agent_name, csrf, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind($crate::accounts::digest(&cookie))
                .bind(agent_id)
                .bind(agent_name)
                .bind(&csrf)
                .bind($crate::store::sql::now())
                .bind(expires_at)
                .execute(&self.pool)
                .await?;
                let session = $crate::Session {
                    agent_id: agent_id.to_owned(),
                    agent_name: agent_name.to_owned(),
                    csrf,
                    expires_at,
                };
                Ok((cookie, session))
            }

            async fn session(
                &self,
                cookie: &str,
                now: time::OffsetDateTime,
            ) -> Result<Option<$crate::Session>, $crate::Error> {
                let row: Option<(String, String, String, time::OffsetDateTime)> = sqlx::query_as(
                    "SELECT agent_id, agent_name, csrf, expires_at FROM case_sessions WHERE token_hash = $1",
                )
                .bind($crate::accounts::digest(cookie))
                .fetch_optional(&self.pool)
                .await?;
                Ok(row
                    .filter(|(_, _, _, expires_at)| *expires_at > now)
                    .map(|(agent_id, agent_name, csrf, expires_at)| $crate::Session {
                        agent_id,
                        agent_name,
                        csrf,
                        expires_at,
                    }))
            }

            async fn end_session(&self, cookie: &str) -> Result<(), $crate::Error> {
                sqlx::query("DELETE FROM case_sessions WHERE token_hash = $1")
                    .bind($crate::accounts::digest(cookie))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn purge_sessions(&self, now: time::OffsetDateTime) -> Result<u64, $crate::Error> {
                Ok(sqlx::query("DELETE FROM case_sessions WHERE expires_at <= $1")
                    .bind($crate::store::sql::stored_time(now))
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            async fn add_token(&self, name: &str) -> Result<String, $crate::Error> {
                $crate::accounts::valid_integration(name)?;
                let token = format!("fct_{}", $crate::accounts::random_token(32)?);
                let inserted = sqlx::query(
                    "INSERT INTO case_api_tokens (name, token_hash, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind(name)
                .bind($crate::accounts::digest(&token))
                .bind($crate::store::sql::now())
                .execute(&self.pool)
                .await?
                .rows_affected();
                if inserted == 0 {
                    return Err($crate::Error::invalid(format!(
                        "an integration named {name} exists; remove it first to replace its token"
                    )));
                }
                Ok(token)
            }

            async fn remove_token(&self, name: &str) -> Result<bool, $crate::Error> {
                Ok(sqlx::query("DELETE FROM case_api_tokens WHERE name = $1")
                    .bind(name)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
                    > 0)
            }

            async fn tokens(&self) -> Result<Vec<$crate::ApiToken>, $crate::Error> {
                let rows: Vec<(String, time::OffsetDateTime)> =
                    sqlx::query_as("SELECT name, created_at FROM case_api_tokens ORDER BY name")
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows
                    .into_iter()
                    .map(|(name, created_at)| $crate::ApiToken { name, created_at })
                    .collect())
            }

            async fn token_owner(&self, token: &str) -> Result<Option<String>, $crate::Error> {
                Ok(sqlx::query_scalar("SELECT name FROM case_api_tokens WHERE token_hash = $1")
                    .bind($crate::accounts::digest(token))
                    .fetch_optional(&self.pool)
                    .await?)
            }
        }
    };
}

pub(super) use sql_accounts;
