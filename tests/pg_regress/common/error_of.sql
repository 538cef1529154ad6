-- SQLSTATE and message of the error a query raises (or 'no error'); channel ids (identity
-- values, which depend on what ran before) are masked.
CREATE FUNCTION pg_temp.error_of(query text) RETURNS text LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE query;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, 'channel [0-9]+', 'channel N');
END
$fn$;
