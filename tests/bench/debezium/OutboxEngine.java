// Debezium's Outbox Event Router feeding Kafka the way Kafka Connect would: the baseline that
// outbox-relay's benchmark runs by default (DEBEZIUM_RUNTIME=engine, tests/bench/lib/debezium.sh;
// why it exists: README.md beside this file).
//
// Debezium Server 2.7.3's Kafka sink waits for the broker's ack of each record before it sends
// the next (KafkaChangeConsumer.handleBatch: send(record).get() per record), a few hundred
// events/s over one connection. Kafka Connect, where the router usually runs, sends
// asynchronously. This program keeps everything else of Debezium Server: the same engine
// (the asynchronous embedded engine Debezium Server 2.7 uses), the same PostgreSQL connector and
// configuration, the same Outbox Event Router running as an engine-side transform, the same
// producer settings (acks=all, idempotence), the same offset file and the same delivery
// contract (offsets committed only once every record of a batch is acked). What differs: the
// records of a batch are all sent at once, then their acks awaited together.
//
// Usage: java -cp "$DEBEZIUM_HOME/lib/*:dist/engine-classes" OutboxEngine application.properties
// reading the file debezium_conf writes for Debezium Server (without an argument: the
// application.properties on the class path). debezium.source.* become engine properties,
// debezium.transforms* / debezium.predicates* the engine's transforms* / predicates*,
// debezium.sink.kafka.producer.* the KafkaProducer's; debezium.format.* and quarkus.* do not
// apply. Values may say ${VAR} (taken from the environment, e.g. ${DEBEZIUM_DB_PASSWORD}) and
// $${x} (a literal ${x}, e.g. the router's $${routedByValue}), as Quarkus reads them.
// SIGTERM or SIGINT stops the engine (offsets committed), closes the producer, exits 0; an
// engine failure exits 1.

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.connect.header.Header;
import org.apache.kafka.connect.source.SourceRecord;

import io.debezium.embedded.Connect;
import io.debezium.embedded.async.ConvertingAsyncEngineBuilderFactory;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.RecordChangeEvent;
import io.debezium.engine.format.ChangeEventFormat;

public final class OutboxEngine {

    private static final Pattern EXPR = Pattern.compile("\\$(\\$?)\\{([^}]*)\\}");

    public static void main(String[] args) throws Exception {
        logToConsole();
        Properties file = new Properties();
        try (InputStream in = args.length > 0 ? Files.newInputStream(Paths.get(args[0]))
                : OutboxEngine.class.getResourceAsStream("/application.properties")) {
            if (in == null) {
                die("no application.properties (give its path as the first argument)");
            }
            file.load(in);
        }

        // Debezium Server's mapping of its configuration, minus the formats (the engine hands us
        // Connect records; we serialise them below as the simplestring format would)
        Properties engineProps = new Properties();
        Properties producerProps = new Properties();
        String sink = file.getProperty("debezium.sink.type", "kafka");
        String producerPrefix = "debezium.sink." + sink + ".producer.";
        for (String key : file.stringPropertyNames()) {
            String value = resolve(key, file.getProperty(key));
            if (key.startsWith("debezium.source.")) {
                engineProps.setProperty(key.substring("debezium.source.".length()), value);
            } else if (key.startsWith("debezium.transforms") || key.startsWith("debezium.predicates")) {
                engineProps.setProperty(key.substring("debezium.".length()), value);
            } else if (key.startsWith(producerPrefix)) {
                producerProps.setProperty(key.substring(producerPrefix.length()), value);
            }
        }
        engineProps.setProperty("name", sink);   // as Debezium Server names its engine
        // we hand the producer bytes: the UTF-8 that the configured StringSerializer would make
        producerProps.setProperty("key.serializer", ByteArraySerializer.class.getName());
        producerProps.setProperty("value.serializer", ByteArraySerializer.class.getName());

        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerProps);
        AtomicLong sent = new AtomicLong();
        AtomicBoolean failed = new AtomicBoolean();
        CountDownLatch stopped = new CountDownLatch(1);

        DebeziumEngine.ChangeConsumer<RecordChangeEvent<SourceRecord>> consumer = (batch, committer) -> {
            // send the whole batch without waiting ...
            List<Future<RecordMetadata>> acks = new ArrayList<>(batch.size());
            for (RecordChangeEvent<SourceRecord> event : batch) {
                acks.add(producer.send(toKafka(event.record())));
            }
            // ... then wait for every ack; any failure fails the batch, whose offsets are then
            // not committed (the engine stops, and a restart sends the batch again)
            for (Future<RecordMetadata> ack : acks) {
                try {
                    ack.get();
                } catch (ExecutionException e) {
                    throw new RuntimeException("Kafka did not take a record: " + e.getCause(), e.getCause());
                }
            }
            for (RecordChangeEvent<SourceRecord> event : batch) {
                committer.markProcessed(event);
            }
            committer.markBatchFinished();
            sent.addAndGet(batch.size());
        };

        // the asynchronous embedded engine, as Debezium Server 2.7 builds it
        // (ConvertingAsyncEngineBuilderFactory), with Connect records: after the transforms
        DebeziumEngine<RecordChangeEvent<SourceRecord>> engine = new ConvertingAsyncEngineBuilderFactory()
                .builder(ChangeEventFormat.of(Connect.class))
                .using(engineProps)
                .notifying(consumer)
                .using((success, message, error) -> {
                    if (!success) {
                        failed.set(true);
                        System.err.println("OutboxEngine: the engine failed: " + message);
                        if (error != null) {
                            error.printStackTrace();
                        }
                    }
                    stopped.countDown();
                })
                .build();

        // SIGTERM / SIGINT: stop the engine (it commits the offsets of what Kafka acked) and let
        // main exit 0, where a JVM shutdown hook would leave the exit status at 143
        sun.misc.SignalHandler stop = signal -> new Thread(() -> close(engine), "stop").start();
        sun.misc.Signal.handle(new sun.misc.Signal("TERM"), stop);
        sun.misc.Signal.handle(new sun.misc.Signal("INT"), stop);

        System.err.println("OutboxEngine: starting the engine (connector "
                + engineProps.getProperty("connector.class") + ", producer to "
                + producerProps.getProperty("bootstrap.servers") + ")");
        Thread runner = new Thread(engine, "engine");
        runner.start();
        stopped.await();
        runner.join(30_000);
        producer.close();
        System.err.println("OutboxEngine: stopped after " + sent.get() + " records acked by Kafka");
        System.exit(failed.get() ? 1 : 0);
    }

    // Debezium logs through slf4j; in lib/ its binding is slf4j-jboss-logmanager, to the JBoss
    // LogManager that Quarkus configures for Debezium Server. Outside Quarkus nobody does, and
    // every log line would be dropped: give its root logger Quarkus' console handler and format.
    private static void logToConsole() {
        org.jboss.logmanager.Logger root = org.jboss.logmanager.LogContext.getLogContext().getLogger("");
        root.addHandler(new org.jboss.logmanager.handlers.ConsoleHandler(
                new org.jboss.logmanager.formatters.PatternFormatter(
                        "%d{yyyy-MM-dd HH:mm:ss,SSS} %-5p [%c{3.}] (%t) %s%e%n")));
        root.setLevel(java.util.logging.Level.INFO);
    }

    // SourceRecord after the router -> Kafka record, as Debezium Server's Kafka sink with
    // debezium.format.key/value=simplestring would send it: key and value as their string
    // values in UTF-8 (the router's key is aggregate_id, its value the payload: the jsonb's
    // text, schema io.debezium.data.Json). Headers (id, event_type, event_id) also as plain
    // UTF-8 strings, where Debezium Server's JSON header format puts them in double quotes.
    private static ProducerRecord<byte[], byte[]> toKafka(SourceRecord record) {
        RecordHeaders headers = new RecordHeaders();
        for (Header h : record.headers()) {
            headers.add(h.key(), utf8(h.value()));
        }
        return new ProducerRecord<>(record.topic(), null, null, utf8(record.key()), utf8(record.value()), headers);
    }

    private static byte[] utf8(Object o) {
        return o == null ? null : o.toString().getBytes(StandardCharsets.UTF_8);
    }

    // the asynchronous engine refuses close() while it is still starting: retry until it takes
    private static void close(DebeziumEngine<?> engine) {
        for (int i = 0; ; i++) {
            try {
                engine.close();
                return;
            } catch (IllegalStateException e) {
                if (i == 120) {
                    System.err.println("OutboxEngine: engine does not stop: " + e.getMessage());
                    Runtime.getRuntime().halt(1);
                }
            } catch (Exception e) {
                System.err.println("OutboxEngine: closing the engine: " + e);
                return;
            }
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    // ${VAR}: the environment's VAR (a missing one is fatal, as in Quarkus); $${x}: literal ${x}
    private static String resolve(String key, String value) {
        Matcher m = EXPR.matcher(value);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String name = m.group(2), replacement;
            if (!m.group(1).isEmpty()) {
                replacement = "${" + name + "}";
            } else if ((replacement = System.getenv(name)) == null
                    && (replacement = System.getProperty(name)) == null) {
                die(key + " needs " + name + ", which the environment does not hold");
            }
            m.appendReplacement(out, Matcher.quoteReplacement(replacement));
        }
        return m.appendTail(out).toString();
    }

    private static void die(String message) {
        System.err.println("OutboxEngine: " + message);
        System.exit(2);
    }
}
